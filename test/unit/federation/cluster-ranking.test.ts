import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rankClusters, type RemoteClusterState } from '../../../src/federation/index.ts';
import { FC_SEED, bucket, clusterSummary, fcParams, spec } from './fixtures.ts';

const NOW = 100_000;
const ctx = { self: 'a', federated: ['b', 'c', 'd'], now: NOW, maxSummaryAgeMs: 30_000, weakClusterWeight: 0.5 };

function state(cluster: string, buckets: Parameters<typeof clusterSummary>[1], init: { region?: string; acceptsUs?: boolean; ageMs?: number } = {}): [string, RemoteClusterState] {
  return [cluster, { summary: clusterSummary(cluster, buckets, { region: init.region }), receivedAtMs: NOW - (init.ageMs ?? 1_000), acceptsUs: init.acceptsUs ?? true }];
}

const big = bucket({ hosts: 4, free: { vcpus: 16, memoryMiB: 65536 } });
const small = bucket({ hosts: 4, free: { vcpus: 4, memoryMiB: 8192 } });

describe('federation: ranking remote clusters for a burst', () => {
  it('only clusters whose summary fits the job are candidates; the others say why', () => {
    const remotes = new Map([state('b', [big]), state('c', [small])]);
    const r = rankClusters(spec({ resources: { vcpus: 12, memoryMiB: 4096 } }), ctx, remotes);
    assert.deepEqual(r.candidates.map((c) => c.cluster), ['b']);
    const c = r.refusals.find((x) => x.cluster === 'c');
    assert.equal(c?.code, 'JOB_UNPLACEABLE');
    assert.equal(c!.message, 'cluster c: no host with 12 vCPUs, 4 GiB memory free (4 hosts checked: 4 short of vCPUs)');
    assert.deepEqual(r.refusals.find((x) => x.cluster === 'd'), { cluster: 'd', code: 'FEDERATION_UNAVAILABLE', message: 'no summary from cluster d yet' });
  });

  it('a cluster that does not accept ours is refused with FEDERATION_DENIED before any request', () => {
    const r = rankClusters(spec(), ctx, new Map([state('b', [big], { acceptsUs: false })]));
    assert.equal(r.candidates.length, 0);
    assert.deepEqual(r.refusals[0], { cluster: 'b', code: 'FEDERATION_DENIED', message: 'cluster b does not accept jobs from cluster a' });
  });

  it('a named cluster is the only candidate, even without a fresh summary', () => {
    const remotes = new Map([state('b', [big], { ageMs: 60_000 }), state('c', [big])]);
    const r = rankClusters(spec({ constraints: { cluster: 'b' } }), ctx, remotes);
    assert.deepEqual(r.candidates.map((c) => [c.cluster, c.fit]), [['b', 'unknown']]);
    const unnamed = rankClusters(spec(), ctx, remotes);
    assert.deepEqual(unnamed.candidates.map((c) => c.cluster), ['c'], 'a stale cluster is not tried unless named');
    assert.match(unnamed.refusals.find((x) => x.cluster === 'b')!.message, /last summary is 60 s old/);
  });

  it('a region keeps only the clusters in it', () => {
    const remotes = new Map([state('b', [big], { region: 'us' }), state('c', [big], { region: 'eu' })]);
    const r = rankClusters(spec({ constraints: { region: 'eu' } }), ctx, remotes);
    assert.deepEqual(r.candidates.map((c) => c.cluster), ['c']);
    assert.equal(r.refusals.find((x) => x.cluster === 'b')?.message, 'cluster b is in region us, not eu');
  });

  it('zone, driver and labels are judged per bucket, as placement does', () => {
    const remotes = new Map([state('b', [bucket({ zone: 'z9', hosts: 2, free: { vcpus: 16, memoryMiB: 65536 }, labels: ['ssd=true'], drivers: ['process'] })])]);
    assert.equal(rankClusters(spec({ constraints: { zone: 'z1' } }), ctx, remotes).candidates.length, 0, 'other zone');
    assert.equal(rankClusters(spec({ kind: 'vm' }), ctx, remotes).candidates.length, 0, 'no VM driver');
    assert.equal(rankClusters(spec({ kind: 'process', command: ['x'], constraints: { hostLabels: { ssd: 'true' } } }), ctx, remotes).candidates.length, 1, 'process job with the label fits');
  });

  it('sure fits rank before maybe fits, and the cluster itself is never a candidate', () => {
    // 20 vCPUs, 16 GiB: only the 32-vCPU/128-GiB shape covers it; b's host has 48 vCPUs but 64 GiB, so its summary says "maybe".
    const maybe = bucket({ hosts: 1, free: { vcpus: 48, memoryMiB: 65536 } });
    const sure = bucket({ hosts: 1, free: { vcpus: 32, memoryMiB: 131072, diskGiB: 500 } });
    const remotes = new Map([state('a', [sure]), state('b', [maybe]), state('c', [sure])]);
    const r = rankClusters(spec({ resources: { vcpus: 20, memoryMiB: 16384 } }), { ...ctx, federated: ['a', 'b', 'c'] }, remotes);
    assert.deepEqual(r.candidates.map((c) => `${c.cluster}:${c.fit}`), ['c:sure', 'b:maybe']);
    const giant = rankClusters(spec({ resources: { vcpus: 40, memoryMiB: 16384 } }), { ...ctx, federated: ['a', 'b', 'c'] }, remotes);
    assert.deepEqual(giant.candidates.map((c) => `${c.cluster}:${c.fit}`), ['b:maybe'], 'no standard shape covers 40 vCPUs: maxFree decides');
  });

  it(`the order depends only on the key and the summaries, and follows capacity (seed ${FC_SEED})`, () => {
    const remotes = new Map([state('b', [bucket({ hosts: 30, free: { vcpus: 16, memoryMiB: 65536 } })]), state('c', [bucket({ hosts: 10, free: { vcpus: 16, memoryMiB: 65536 } })])]);
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (key) => {
        const a = rankClusters(spec({ idempotencyKey: key }), ctx, remotes).candidates.map((c) => c.cluster);
        const b = rankClusters(spec({ idempotencyKey: key }), { ...ctx, now: NOW + 5 }, new Map([...remotes].reverse())).candidates.map((c) => c.cluster);
        assert.deepEqual(a, b, `key ${JSON.stringify(key)} must rank the same on every gateway`);
      }),
      fcParams(200),
    );
    let first = 0;
    const n = 4_000;
    for (let i = 0; i < n; i++) if (rankClusters(spec({ idempotencyKey: `key-${i}` }), ctx, remotes).candidates[0]!.cluster === 'b') first++;
    // Weighted rendezvous: b has 3 × c's fitting hosts, so it comes first for ~75% of keys.
    assert.ok(Math.abs(first / n - 0.75) < 0.04, `b first for ${first} of ${n} keys; expected about 75%`);
  });
});
