import { loadScenarioFile } from '/work/main/simulations/scenario/load.ts';
import { runScenario } from '/work/main/simulations/run/run-scenario.ts';
const s = loadScenarioFile('/work/main/simulations/scenarios/steady-state.toml');
const r = runScenario({ ...s, nodes: Number(process.argv[2] ?? 1000), duration_s: Number(process.argv[3] ?? 120) }, { baselines: false });
console.log(r.deliveredEvents, r.queuedEvents, r.wallMs, r.metrics.events_per_wall_s, r.metrics.steady_msgs_in_per_host_s);
