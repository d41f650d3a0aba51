import { loadScenarioFile } from './scenario/load.ts';
import { runScenario } from './run/run-scenario.ts';
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
const s = loadScenarioFile(process.argv[5] ?? 'simulations/scenarios/steady-state.toml');
const session = new Session(); session.connect();
const profFrom = Number(process.argv[4] ?? 0), profTo = profFrom + 10;
let lastE = 0, lastW = 0;
const r = runScenario({ ...s, nodes: Number(process.argv[2]), duration_s: Number(process.argv[3]) }, { baselines: false, onProgress: (p) => {
  const sec = p.simMs / 1000;
  if (sec === profFrom) { session.post('Profiler.enable'); session.post('Profiler.start'); }
  if (sec === profTo) session.post('Profiler.stop', (err, res) => writeFileSync('/tmp/simbench/big.cpuprofile', JSON.stringify(res.profile)));
  console.log(`t=${sec} dE=${p.events - lastE} wall=${((p.wallMs - lastW) / 1000).toFixed(1)}s live=${p.liveHosts} rss=${(process.memoryUsage().rss / 1e6).toFixed(0)}MB heap=${(process.memoryUsage().heapUsed / 1e6).toFixed(0)}MB`);
  lastE = p.events; lastW = p.wallMs;
} });
console.log(r.metrics.events_per_wall_s);
