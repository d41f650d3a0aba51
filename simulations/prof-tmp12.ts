import { loadScenarioFile } from './scenario/load.ts';
import { runScenario } from './run/run-scenario.ts';
import { World } from './world/world.ts';
const s = loadScenarioFile('simulations/scenarios/partition-heal.toml');
let cross = 0, crossRecord = 0, crossAccepted = 0; let direct = 0;
const orig = World.prototype.deliverTopic;
World.prototype.deliverTopic = function (host, topic, from, m, now) {
  const v = orig.call(this, host, topic, from, m, now);
  if (now > 125000 && this.topology.zoneOf[host] !== this.topology.zoneOf[m.origin]) { cross++; if ((m.payload.msg as any)?.type === 'record') { crossRecord++; if (v === 'accept') crossAccepted++; } }
  return v;
};
const r = runScenario({ ...s, baselines: { ...s.baselines, flat_gossip: false } }, { baselines: false });
console.log({ cross, crossRecord, crossAccepted }, r.metrics.final_converged_fraction);
