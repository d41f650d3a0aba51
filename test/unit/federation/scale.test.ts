import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { SeededRng } from '../../../src/core/rng.ts';
import {
  GatewayFailover,
  RemoteDirectory,
  acceptsCluster,
  encodeFederationMessage,
  rankClusters,
  summarizeCluster,
  type ClusterSummary,
  type FederationPolicy,
} from '../../../src/federation/index.ts';
import type { CellSummary } from '../../../src/gossip/records.ts';
import { bucket, cell, spec } from './fixtures.ts';

/**
 * The federation's pure decisions at the size issue 8 names for the simulator: 10 clusters of
 * 10,000 hosts, 2 gateways each. Not a network simulation: it measures what a gateway computes
 * (aggregation, ranking), what crosses (summary bytes per exchange) and how bursts spread over
 * remote clusters and their gateways. Printed figures are quoted in src/federation/README.md.
 */

const CLUSTERS = 10;
const HOSTS = 10_000;
/** Gossip's layout at 10k hosts and targetCellSize 48: cellBits 8. */
const CELLS = 256;
const ZONES = ['z1', 'z2', 'z3'];
const SEED = Number(process.env.FC_SEED ?? 8);
/** Host sizes per cluster: some sites have small hosts, some large, as in the e2e test. */
const HOST_VCPUS = [8, 16, 32, 64, 16, 32, 8, 64, 32, 16];

function clusterCells(c: number, rng: SeededRng): CellSummary[] {
  const name = `c${c}`;
  const per = Math.round(HOSTS / CELLS);
  const v = HOST_VCPUS[c]!;
  const out: CellSummary[] = [];
  for (let i = 0; i < CELLS; i++) {
    const buckets = ZONES.map((zone, z) => {
      const hosts = Math.floor(per / ZONES.length) + (z < per % ZONES.length ? 1 : 0);
      // Free capacity differs per cell: the aggregate must combine unlike buckets.
      const freeV = Math.max(1, Math.floor(v * rng.next()));
      return bucket({ zone, hosts, free: { vcpus: freeV, memoryMiB: freeV * 4096, diskGiB: 400 }, cap: { vcpus: v, memoryMiB: v * 4096, diskGiB: 1000 }, labels: rng.next() < 0.3 ? ['ssd=true'] : [] });
    });
    out.push(cell({ cluster: name, cell: i, issuedAtMs: 1_000, buckets }));
  }
  return out;
}

describe(`federation at ${CLUSTERS} clusters × ${HOSTS.toLocaleString('en')} hosts (pure-code model, seed ${SEED})`, function () {
  this.timeout(60_000);
  const rng = new SeededRng(SEED);
  const cells = Array.from({ length: CLUSTERS }, (_, c) => clusterCells(c, rng));
  let summaries: ClusterSummary[] = [];

  it('a gateway aggregates its 256 cell summaries in well under a millisecond per cell', () => {
    const t0 = performance.now();
    const rounds = 20;
    for (let r = 0; r < rounds; r++) summaries = cells.map((cs, c) => summarizeCluster({ cluster: `c${c}`, region: 'eu', gateway: `gw-c${c}-0`, now: 2_000, cells: cs, maxCellAgeMs: 30_000 }));
    const perSummaryMs = (performance.now() - t0) / (rounds * CLUSTERS);
    console.log(`      summarizeCluster over ${CELLS} cells: ${perSummaryMs.toFixed(3)} ms`);
    assert.ok(perSummaryMs < 25, `aggregation took ${perSummaryMs} ms; it runs once per exchange, but must stay cheap`);
    assert.equal(summaries[0]!.hosts, CELLS * Math.round(HOSTS / CELLS), 'every host counted once (256 cells of 39)');
  });

  it('what crosses per exchange: one summary push and one answer per remote gateway', () => {
    const bytes = summaries.map((s) => encodeFederationMessage({ v: 1, op: 'summary', summary: s, acceptsYou: true }, 1 << 20).length);
    const maxBytes = Math.max(...bytes);
    const intervalS = 5;
    const remoteGateways = (CLUSTERS - 1) * 2;
    // Each gateway pushes to every remote gateway and answers every remote gateway's push.
    const msgsPerS = (2 * remoteGateways) / intervalS;
    const bytesPerS = (2 * remoteGateways * maxBytes) / intervalS;
    console.log(`      summary push: ${maxBytes} bytes max; per gateway ${msgsPerS.toFixed(1)} requests/s and ${(bytesPerS / 1024).toFixed(1)} KiB/s each way (${remoteGateways} remote gateways, ${intervalS} s interval)`);
    assert.ok(maxBytes < 16 * 1024, `a summary of ${HOSTS} hosts must stay a few KB, got ${maxBytes}`);
    assert.ok(JSON.stringify(summaries[0]).indexOf('host-') < 0, 'no host id crosses');
  });

  it('ranking a burst over the 9 other clusters costs microseconds', () => {
    const directory = new RemoteDirectory('c0', Object.fromEntries(Array.from({ length: CLUSTERS }, (_, c) => [`c${c}`, [`gw-c${c}-0`, `gw-c${c}-1`]])));
    for (let c = 1; c < CLUSTERS; c++) directory.onSummary(`gw-c${c}-0`, summaries[c]!, true, 2_000);
    const ctx = { self: 'c0', federated: directory.clusters, now: 3_000, maxSummaryAgeMs: 30_000, weakClusterWeight: 0.5 };
    const jobs = Array.from({ length: 5_000 }, (_, i) => spec({ idempotencyKey: `k${i}`, resources: { vcpus: 1 + (i % 24), memoryMiB: 4096 * (1 + (i % 6)) } }));
    const t0 = performance.now();
    let candidates = 0;
    for (const j of jobs) candidates += rankClusters(j, ctx, directory.states()).candidates.length;
    const perCallUs = ((performance.now() - t0) * 1000) / jobs.length;
    console.log(`      rankClusters over ${CLUSTERS - 1} summaries: ${perCallUs.toFixed(1)} µs per burst, ${(candidates / jobs.length).toFixed(1)} candidates on average`);
    assert.ok(perCallUs < 500, `ranking took ${perCallUs} µs per burst`);
  });

  it('bursts spread over remote clusters by fitting capacity, and over their gateways', () => {
    // Every cluster bursts 2,000 8-vCPU jobs; the share each target gets should follow how many of its hosts fit one.
    const allow = Object.fromEntries(Array.from({ length: CLUSTERS }, (_, c) => [`c${c}`, [`gw-c${c}-0`, `gw-c${c}-1`]]));
    const open: FederationPolicy = { acceptClusters: ['*'], allowTenants: ['*'], denyTenants: [], clusters: {}, tenants: {} };
    const perCluster = new Map<string, number>();
    const perGateway = new Map<string, number>();
    for (let src = 0; src < CLUSTERS; src++) {
      const self = `c${src}`;
      const directory = new RemoteDirectory(self, allow);
      for (let c = 0; c < CLUSTERS; c++) if (c !== src) directory.onSummary(`gw-c${c}-0`, summaries[c]!, acceptsCluster(open, self), 2_000);
      // Each of the source's two gateways keeps its own failover order per remote cluster.
      const failover = [0, 1].map((g) => new Map(directory.clusters.map((c) => [c, new GatewayFailover({ backoffMs: 1_000, maxBackoffMs: 60_000 }, directory.gatewaysOf(c), `gw-${self}-${g}`)])));
      for (let i = 0; i < 2_000; i++) {
        const first = rankClusters(spec({ idempotencyKey: `${self}-${i}`, resources: { vcpus: 8, memoryMiB: 8192 } }), { self, federated: directory.clusters, now: 3_000, maxSummaryAgeMs: 30_000, weakClusterWeight: 0.5 }, directory.states()).candidates[0];
        if (!first) continue;
        perCluster.set(first.cluster, (perCluster.get(first.cluster) ?? 0) + 1);
        const gw = failover[i % 2]!.get(first.cluster)!.order(3_000)[0]!;
        perGateway.set(gw, (perGateway.get(gw) ?? 0) + 1);
      }
    }
    const total = [...perCluster.values()].reduce((a, b) => a + b, 0);
    const gwLoads = [...perGateway.values()];
    const spread = Math.max(...gwLoads) / (total / gwLoads.length);
    console.log(`      ${total} bursts: per target cluster ${[...perCluster].map(([c, n]) => `${c} ${n}`).join(', ')}`);
    console.log(`      per remote gateway: max ${Math.max(...gwLoads)}, mean ${(total / gwLoads.length).toFixed(0)} (${gwLoads.length} gateways, max/mean ${spread.toFixed(2)})`);
    assert.equal(total, CLUSTERS * 2_000, 'every burst found a cluster');
    // Hosts of the 8-vCPU clusters (c0, c6) never have 8 vCPUs free here; the 64-vCPU ones (c3, c7) often do.
    assert.ok((perCluster.get('c3') ?? 0) > (perCluster.get('c0') ?? 0), 'a cluster with larger hosts gets more of the bursts');
    assert.equal(gwLoads.length, 2 * perCluster.size, 'both gateways of every cluster that takes bursts share them');
    assert.ok(spread < 2, `no remote gateway takes twice its share (max/mean ${spread.toFixed(2)})`);
  });
});
