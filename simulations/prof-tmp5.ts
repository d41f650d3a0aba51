import { loadScenarioFile } from './scenario/load.ts';
import { runScenario } from './run/run-scenario.ts';
import { World } from './world/world.ts';
const s = loadScenarioFile('simulations/scenarios/steady-state.toml');
let world: any = null;
const origRun = World.prototype.runUntil;
World.prototype.runUntil = function (t) { world = this; return origRun.call(this, t); };
const r = runScenario({ ...s, nodes: 10000, duration_s: 100, start: { ...s.start, spread_s: 20 } }, { baselines: false });
// find missing cells
const counts = new Map<number, number>();
for (let h = 0; h < world.hostCount; h++) { const g = world.hosts[h]?.gossip; if (!g) continue; for (let c = 0; c < 2 ** g.cellBits; c++) if (!g.cellSummary(c) && c !== g.cell) counts.set(c, (counts.get(c) ?? 0) + 1); }
console.log('missing cells', [...counts.entries()].filter(([, n]) => n > 100));
for (const [cell] of [...counts.entries()].filter(([, n]) => n > 100)) {
  const members: any[] = [];
  for (let h = 0; h < world.hostCount; h++) { const g = world.hosts[h]?.gossip; if (g && g.cell === cell) members.push({ h, g }); }
  console.log('cell', cell, 'members', members.length);
  for (const { h, g } of members.slice(0, 60)) { const roles = g.roles(); const c = g.counters(); if (roles.rank < 4) console.log(' host', h, 'rank', roles.rank, 'delegate', roles.delegate, 'districtReporter', roles.districtReporter, 'subs', roles.subscriptions.map((t: string) => t.split('/').slice(-1)[0]), 'summariesPublished', c.summariesPublished, 'digests', c.digestsPublished, 'rejected', JSON.stringify(Object.fromEntries(Object.entries(c.rejected).filter(([, v]) => v))), 'ignored', JSON.stringify(Object.fromEntries(Object.entries(c.ignored).filter(([, v]) => v))), 'ownSummary', !!g.cellSummary(cell)); }
  // district reporter of that district
  const d = cell >> 6;
  for (let h = 0; h < world.hostCount; h++) { const g = world.hosts[h]?.gossip; if (!g) continue; const roles = g.roles(); if (roles.districtReporter && g.district === d) console.log(' district reporter', h, 'cell', g.cell, 'has summary of', cell, !!g.cellSummary(cell), 'digests', g.counters().digestsPublished); }
}
