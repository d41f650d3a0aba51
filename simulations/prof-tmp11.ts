import { loadScenarioFile } from './scenario/load.ts';
import { runScenario } from './run/run-scenario.ts';
import { World } from './world/world.ts';
import { ShoalHostModel } from './shoal/shoal-model.ts';
const s = loadScenarioFile('simulations/scenarios/partition-heal.toml');
let world: any = null; let model: any = null;
const origRun = World.prototype.runUntil; World.prototype.runUntil = function (t) { world = this; return origRun.call(this, t); };
const origBind = ShoalHostModel.prototype.bind; ShoalHostModel.prototype.bind = function (...a: any[]) { model = this; return (origBind as any).apply(this, a); };
runScenario({ ...s, baselines: { ...s.baselines, flat_gossip: false } }, { baselines: false, onProgress: (p) => {
  if (p.simMs % 15000 !== 0 || p.simMs < 45000) return;
  const reasons: Record<string, number> = {};
  for (let h = 0; h < world.hostCount; h += 3) {
    const g = world.hosts[h]?.gossip; if (!g) continue;
    let missing = 0, statuses: Record<string, number> = {};
    model.truth.forLiveInCell(g.cellBits, g.ownCell, (x: number) => { if (x === h) return; const m = g.cellMember(world.ids[x]); if (!m || m.status !== 'alive') { missing++; const st = m ? m.status : 'absent'; statuses[st] = (statuses[st] ?? 0) + 1; } });
    const why = missing ? 'missing:' + Object.keys(statuses).join('+') : 'ok';
    reasons[why] = (reasons[why] ?? 0) + 1;
  }
  console.log(`t=${p.simMs / 1000}`, JSON.stringify(reasons));
} });
