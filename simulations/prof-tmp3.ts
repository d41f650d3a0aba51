import { loadScenarioFile } from './scenario/load.ts';
import { runScenario } from './run/run-scenario.ts';
import { World } from './world/world.ts';
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
const s = loadScenarioFile('simulations/scenarios/steady-state.toml');
let world: any = null;
const origRun = World.prototype.runUntil;
World.prototype.runUntil = function (t) { world = this; return origRun.call(this, t); };
const session = new Session(); session.connect();
const profileFrom = Number(process.argv[5] ?? 1e9);
let profiling = false;
const r = runScenario({ ...s, nodes: Number(process.argv[2] ?? 1000), duration_s: Number(process.argv[3] ?? 120), start: { ...s.start, spread_s: Number(process.argv[4] ?? 20) } }, { baselines: false, onProgress: (p) => {
  if (p.simMs === profileFrom * 1000 && !profiling) { profiling = true; session.post('Profiler.enable'); session.post('Profiler.start'); }
  if (p.simMs % 20000 === 0) {
    const w = world;
    const ov = w.overlay as any;
    let topicMembers = 0, active = 0, freed = 0; for (const t of ov.topics.values()) { topicMembers += t.count; active += t.active.length; freed += t.freed.length; }
    console.log(`t=${p.simMs/1000} rss=${(process.memoryUsage().rss/1e6).toFixed(0)}MB heap=${(process.memoryUsage().heapUsed/1e6).toFixed(0)}MB q=${w.queue.size} msgs=${ov.messages.length}/${ov.freeSlots.length} topics=${ov.topics.size} members=${topicMembers} active=${active} freed=${freed} direct=${w.directPayload.length} cb=${w.callbacks.length} hops=${ov.hopLatencySamples.length}`);
  }
} });
if (profiling) session.post('Profiler.stop', (err, res) => { writeFileSync('/tmp/simbench/steady.cpuprofile', JSON.stringify(res.profile)); });
console.log(r.metrics.final_converged_fraction, r.metrics.events_per_wall_s);
