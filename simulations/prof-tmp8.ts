import { loadScenarioFile } from './scenario/load.ts';
import { runScenario } from './run/run-scenario.ts';
const z = loadScenarioFile('simulations/scenarios/zone-crash.toml');
const c = loadScenarioFile('simulations/scenarios/cold-start.toml');
console.log('zone first', runScenario({ ...z, nodes: 300, duration_s: 60 }, { baselines: false }).traceHash);
console.log('cold', runScenario({ ...c, nodes: 300, duration_s: 30 }, { baselines: false }).traceHash);
console.log('zone again', runScenario({ ...z, nodes: 300, duration_s: 60 }, { baselines: false }).traceHash);
