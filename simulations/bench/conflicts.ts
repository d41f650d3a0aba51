import type { Encoded, Resources, ProtocolNode } from '../../src/core/index.ts';
import { HostLedger, type AdmitRequest } from '../../src/placement/index.ts';
import { recordChanged } from '../../src/gossip/self-record.ts';
import type { HostRecord } from '../../src/gossip/index.ts';
import { runScenario } from '../run/run-scenario.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { ShoalHostModel } from '../shoal/shoal-model.ts';
import { PlacementPayload } from '../shoal/payloads.ts';
import type { HostModel } from '../run/host-model.ts';
import type { World } from '../world/world.ts';
import type { ShoalSimNode } from '../shoal/shoal-sim-node.ts';

/**
 * Diagnostics: why hosts reject admissions. For every admit message, what the coordinator's
 * gossip view said of the host, what the host had last published, and its ledger when the
 * admit left; at the host, whether the job fitted each of them.
 *   node simulations/bench/conflicts.ts SCENARIO [NODES] [key=value overrides as JSON]
 */
const [file, nodes, patch] = process.argv.slice(2);
const s = loadScenarioFile(file!);
const sc = { ...s, ...(nodes ? { nodes: Number(nodes) } : {}), ...(patch ? JSON.parse(patch) : {}) };
const fits = (want: Resources, free: Resources | undefined): boolean =>
  free !== undefined && want.vcpus <= free.vcpus && want.memoryMiB <= free.memoryMiB && want.diskGiB <= free.diskGiB;
const sent = new Map<string, { view: Resources | undefined; published: Resources | undefined; ledger: Resources; sentAt: number; sameCell: boolean; significant: boolean }>();
const tally = new Map<string, number>();
const bump = (k: string): void => void tally.set(k, (tally.get(k) ?? 0) + 1);
let model: ShoalHostModel | null = null;
const ledgerOf = new Map<HostLedger, number>();

const origAdmit = HostLedger.prototype.admit;
HostLedger.prototype.admit = function (this: HostLedger, req: AdmitRequest) {
  const before = this.free();
  const r = origAdmit.call(this, req);
  const s = sent.get(`${req.jobId}/${req.epoch}`);
  if (s !== undefined) {
    const want = req.spec.resources;
    const k = r.type === 'accepted' ? 'accepted' : !fits(want, s.view) ? 'rejected: view said no (overlay?)' : !fits(want, s.published) ? 'rejected: view older than the published record' : !fits(want, s.ledger) ? (s.significant ? 'rejected: unpublished change, significant (publish pending: min interval or pacer)' : 'rejected: unpublished change below the significance threshold') : !fits(want, before) ? 'rejected: race (host filled while the admit was in flight)' : 'rejected: other';
    bump(`${k}${r.type === 'accepted' ? '' : s.sameCell ? ' [own cell]' : ' [routed]'}`);
  }
  return r;
};

const wrapped = (sc2: typeof sc) => {
  const m = new ShoalHostModel(sc2);
  model = m;
  return m as unknown as HostModel<ProtocolNode>;
};
let hooked = false;
runScenario(sc, {
  baselines: false,
  modelFactory: wrapped,
  onProgress: () => {
    if (hooked) return;
    hooked = true;
    const w = (model as unknown as { world: World<ShoalSimNode> }).world;
    const ledgers = (model as unknown as { ledgers: (HostLedger | undefined)[] }).ledgers;
    const orig = w.sendFrom.bind(w);
    w.sendFrom = (host: number, to: string, payload: Encoded): void => {
      if (payload instanceof PlacementPayload && (payload.msg as { t: string }).t === 'admit') {
        const msg = payload.msg as unknown as { jobId: string; epoch: number };
        const dest = w.indexOf.get(to)!;
        const g = w.hosts[host]!.gossip;
        const dg = w.hosts[dest]?.gossip as unknown as { published: HostRecord | null; draft: HostRecord } | undefined;
        sent.set(`${msg.jobId}/${msg.epoch}`, {
          view: g.cellMember(to)?.record.free,
          published: dg?.published?.free,
          ledger: ledgers[dest]!.free(),
          sentAt: w.nowMs,
          sameCell: g.cellMember(to) !== undefined,
          significant: dg?.published ? recordChanged(dg.published, { ...dg.draft, free: ledgers[dest]!.free() }, model!.gossipOpts.significantFreeFraction) : false,
        });
      }
      orig(host, to, payload);
    };
  },
});
void ledgerOf;
for (const [k, v] of [...tally].sort()) console.log(`${String(v).padStart(8)}  ${k}`);
