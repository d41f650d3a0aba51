import { loadScenarioFile } from './scenario/load.ts';
import { runScenario } from './run/run-scenario.ts';
const s = loadScenarioFile('simulations/scenarios/zone-crash.toml');
const small = { ...s, nodes: 200, duration_s: 40, events: [{ at_s: 25, action: 'crash-zone' as const, zone: 'r1-b' }] };
console.log(runScenario(small, { baselines: false }).traceHash);
console.log(runScenario(s, { baselines: false }).traceHash);
