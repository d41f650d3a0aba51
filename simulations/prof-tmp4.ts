import { loadScenarioFile } from './scenario/load.ts';
import { runScenario } from './run/run-scenario.ts';
import { ShoalHostModel } from './shoal/shoal-model.ts';
import { World } from './world/world.ts';
const s = loadScenarioFile('simulations/scenarios/steady-state.toml');
let world: any = null;
const origRun = World.prototype.runUntil;
World.prototype.runUntil = function (t) { world = this; return origRun.call(this, t); };
let model: any = null;
const origBind = ShoalHostModel.prototype.bind;
ShoalHostModel.prototype.bind = function (...a: any[]) { model = this; return (origBind as any).apply(this, a); };
const n = Number(process.argv[2] ?? 10000);
const r = runScenario({ ...s, nodes: n, duration_s: Number(process.argv[3] ?? 150), start: { ...s.start, spread_s: 20 } }, { baselines: false, onProgress: (p) => {
  if (p.simMs % 30000 !== 0) return;
  const reasons: Record<string, number> = {};
  const bitsHist: Record<number, number> = {};
  for (let h = 0; h < world.hostCount; h += 1) {
    const node = world.hosts[h]; if (!node) continue;
    const g = node.gossip;
    bitsHist[g.cellBits] = (bitsHist[g.cellBits] ?? 0) + 1;
    let why = 'ok';
    let missing = 0, deadAlive = 0, noSumm = 0;
    model.truth.forLiveInCell(g.cellBits, g.cell, (x: number) => { if (x === h) return; const m = g.member(world.ids[x]); if (!m || m.status !== 'alive') missing++; });
    for (const [peer, m] of g.cellMembers()) { if (m.status !== 'alive') continue; const idx = world.indexOf.get(peer); if (idx === undefined || !world.alive[idx]) deadAlive++; }
    const cells = 2 ** g.cellBits; let have = 0; const miss: number[] = []; for (let c = 0; c < cells; c++) { if (g.cellSummary(c)) have++; else if (c !== g.cell) miss.push(c); }
    if (miss.length > 0 && p.simMs === 150000 && h < 40) console.log('host', h, 'cell', g.cell, 'district', g.district, 'missing', miss.slice(0, 10), 'known', g.knownSummaries());
    if (missing) why = `missing-member:${missing}`; else if (deadAlive) why = 'dead-alive'; else if (miss.length > 0) why = `missing-summaries:${miss.length}`;
    reasons[why] = (reasons[why] ?? 0) + 1;
  }
  console.log(`t=${p.simMs/1000}`, JSON.stringify(reasons), JSON.stringify(bitsHist));
} });
console.log(r.metrics.final_converged_fraction, r.metrics.converged_at_s);
