import { loadScenarioFile } from './scenario/load.ts';
import { runScenario } from './run/run-scenario.ts';
const s = loadScenarioFile('simulations/scenarios/zone-crash.toml');
const t = { ...s, nodes: 1000, baselines: { flat_gossip: false, flat_max_nodes: 500, flat_duration_s: 30, best_fit: true } };
console.log(runScenario(t, { baselines: false }).traceHash);
