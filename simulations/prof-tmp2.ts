import { loadScenarioFile } from './scenario/load.ts';
import { runScenario } from './run/run-scenario.ts';
const s = loadScenarioFile('simulations/scenarios/steady-state.toml');
let lastE = 0, lastW = 0;
const r = runScenario({ ...s, nodes: Number(process.argv[2] ?? 1000), duration_s: Number(process.argv[3] ?? 120), start: { ...s.start, spread_s: Number(process.argv[4] ?? 20) } }, { baselines: false, onProgress: (p) => {
  if (p.simMs % 10000 === 0) { console.log(`t=${p.simMs/1000} events/s(sim)=${((p.events-lastE)/10).toFixed(0)} wall=${((p.wallMs-lastW)/1000).toFixed(1)}s rate=${((p.events-lastE)/((p.wallMs-lastW)/1000)).toFixed(0)}/s rss=${(process.memoryUsage().rss/1e6).toFixed(0)}MB`); lastE = p.events; lastW = p.wallMs; }
} });
console.log(JSON.stringify(Object.fromEntries(Object.entries(r.metrics).filter(([k]) => /steady|peak_to|converged|detect|false|wall|events|rss|summary|stale/.test(k)))));
