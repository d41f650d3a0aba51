import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_CLUSTER_BUCKETS, clusterFree, summarizeCluster } from '../../../src/federation/index.ts';
import { labelFilterOf, labelProbe, mayHaveLabel } from '../../../src/gossip/label-filter.ts';
import { SUMMARY_SHAPES, type MemberView } from '../../../src/gossip/records.ts';
import { summarizeCell } from '../../../src/gossip/summary.ts';
import { record } from '../gossip/fixtures.ts';
import { FC_SEED, bucket, cell, fcParams } from './fixtures.ts';

const base = { cluster: 'a', region: 'eu', gateway: 'gw-a', now: 10_000, maxCellAgeMs: 5_000 };

describe('federation: cluster summary aggregation', () => {
  it('merges the cells\' buckets by zone and driver set: sums, per-axis maxima, label union', () => {
    const cells = [
      cell({ cell: 0, issuedAtMs: 9_000, buckets: [bucket({ zone: 'z1', hosts: 3, free: { vcpus: 4, memoryMiB: 8192 }, labels: ['ssd=true'] })] }),
      cell({ cell: 1, issuedAtMs: 9_500, buckets: [bucket({ zone: 'z1', hosts: 2, free: { vcpus: 16, memoryMiB: 4096 }, labels: ['energy=hydro'] }), bucket({ zone: 'z2', hosts: 1, free: { vcpus: 2, memoryMiB: 2048 } })] }),
    ];
    const s = summarizeCluster({ ...base, cells });
    assert.equal(s.cells, 2);
    assert.equal(s.hosts, 6);
    assert.equal(s.buckets.length, 2, 'one bucket per zone × driver set');
    const z1 = s.buckets.find((b) => b.zone === 'z1')!;
    assert.equal(z1.hosts, 5);
    assert.deepEqual(z1.maxFree, { vcpus: 16, memoryMiB: 8192, diskGiB: 100 }, 'per-axis maxima over the cells');
    assert.deepEqual(z1.totalFree, { vcpus: 3 * 4 + 2 * 16, memoryMiB: 3 * 8192 + 2 * 4096, diskGiB: 500 });
    assert.deepEqual(z1.labelFilter, labelFilterOf(['energy=hydro', 'ssd=true']), 'the cells\' label filters merge');
    assert.deepEqual(z1.fits, cells[0]!.buckets[0]!.fits.map((f, i) => f + cells[1]!.buckets[0]!.fits[i]!), 'fits add up per shape');
    assert.deepEqual(clusterFree(s), { vcpus: 44 + 2, memoryMiB: 32768 + 2048, diskGiB: 600 });
  });

  it('reveals no host: no contacts and no reporters cross, only the gateway', () => {
    const cells = [cell({ cell: 0, issuedAtMs: 9_000, buckets: [bucket({ hosts: 2, free: { vcpus: 4, memoryMiB: 8192 } })] })];
    const text = JSON.stringify(summarizeCluster({ ...base, cells }));
    assert.ok(!text.includes('host-0'), `the summary must not name hosts: ${text}`);
    assert.ok(!text.includes('/ip4/'), 'the summary must not carry addresses');
  });

  it('leaves out other clusters\' cells and cells older than maxCellAgeMs', () => {
    const cells = [
      cell({ cell: 0, issuedAtMs: 9_000, buckets: [bucket({ hosts: 2, free: { vcpus: 4, memoryMiB: 8192 } })] }),
      cell({ cell: 1, cluster: 'b', issuedAtMs: 9_000, buckets: [bucket({ hosts: 7, free: { vcpus: 4, memoryMiB: 8192 } })] }),
      cell({ cell: 2, issuedAtMs: 4_000, buckets: [bucket({ hosts: 9, free: { vcpus: 4, memoryMiB: 8192 } })] }),
    ];
    const s = summarizeCluster({ ...base, cells });
    assert.equal(s.cells, 1);
    assert.equal(s.hosts, 2, 'only the fresh cell of cluster a counts');
  });

  it('bounds buckets; labels beyond a list\'s 32 still route', () => {
    const many = Array.from({ length: MAX_CLUSTER_BUCKETS + 10 }, (_, i) => bucket({ zone: `z${i}`, hosts: 1, free: { vcpus: 1, memoryMiB: 1024 } }));
    const labels = Array.from({ length: 40 }, (_, i) => `k${i}=v`);
    const s = summarizeCluster({ ...base, cells: [cell({ cell: 0, issuedAtMs: 9_000, buckets: [...many, bucket({ zone: 'z0', hosts: 1, free: { vcpus: 1, memoryMiB: 1024 }, labels })] })] });
    assert.equal(s.buckets.length, MAX_CLUSTER_BUCKETS);
    const z0 = s.buckets.find((b) => b.zone === 'z0')!;
    assert.ok(labels.every((l) => mayHaveLabel(z0.labelFilter, labelProbe(l))), 'every label of the 40 may be there');
  });

  it(`totals equal the sum of the fresh cells, whatever the cells (seed ${FC_SEED})`, () => {
    const bucketArb = fc.record({
      zone: fc.constantFrom('z1', 'z2', 'z3'),
      hosts: fc.integer({ min: 0, max: 50 }),
      v: fc.integer({ min: 0, max: 64 }),
      m: fc.integer({ min: 0, max: 262144 }),
    });
    const cellArb = fc.record({ age: fc.integer({ min: 0, max: 10_000 }), buckets: fc.array(bucketArb, { maxLength: 4 }) });
    fc.assert(
      fc.property(fc.array(cellArb, { maxLength: 20 }), (raw) => {
        const cells = raw.map((c, i) => cell({ cell: i, issuedAtMs: base.now - c.age, buckets: c.buckets.map((b) => bucket({ zone: b.zone, hosts: b.hosts, free: { vcpus: b.v, memoryMiB: b.m } })) }));
        const s = summarizeCluster({ ...base, cells });
        const fresh = cells.filter((c) => c.issuedAtMs + base.maxCellAgeMs >= base.now);
        const want = { hosts: 0, v: 0, fits: new Array<number>(SUMMARY_SHAPES.length).fill(0) };
        for (const c of fresh) {
          want.hosts += c.members;
          for (const b of c.buckets) {
            want.v += b.totalFree.vcpus;
            b.fits.forEach((f, i) => (want.fits[i]! += f));
          }
        }
        assert.equal(s.hosts, want.hosts, 'hosts');
        assert.equal(clusterFree(s).vcpus, want.v, 'free vCPUs');
        assert.deepEqual(
          SUMMARY_SHAPES.map((_, i) => s.buckets.reduce((n, b) => n + b.fits[i]!, 0)),
          want.fits,
          'fits per shape',
        );
      }),
      fcParams(200),
    );
  });

  it(`a cluster of cells sums to one cell of all their hosts (seed ${FC_SEED})`, () => {
    const hostArb = fc.record({
      cell: fc.integer({ min: 0, max: 3 }),
      zone: fc.constantFrom('z1', 'z2'),
      drivers: fc.constantFrom(['qemu'] as const, ['qemu', 'process'] as const),
      v: fc.integer({ min: -2, max: 64 }),
      m: fc.integer({ min: 0, max: 262144 }),
      rack: fc.constantFrom('r1', 'r2', 'r3'),
    });
    fc.assert(
      fc.property(fc.array(hostArb, { maxLength: 60 }), (hosts) => {
        const views: MemberView[][] = [[], [], [], []];
        hosts.forEach((h, i) => {
          const r = record(`h${i}`, { zone: h.zone, drivers: [...h.drivers], labels: { rack: h.rack }, free: { vcpus: h.v, memoryMiB: h.m, diskGiB: 500 } });
          views[h.cell]!.push({ record: r, status: 'alive', updatedAtMs: 0 });
        });
        const summarize = (cellIndex: number, members: MemberView[]) => summarizeCell({ cluster: 'a', cell: cellIndex, cellBits: 2, reporter: 'r', now: base.now, contacts: [], members });
        const cluster = summarizeCluster({ ...base, cells: views.map((members, i) => summarize(i, members)) });
        const whole = summarize(0, views.flat());
        const byKey = (b: { zone: string; drivers: readonly string[] }) => `${b.zone}|${b.drivers.join(',')}`;
        const sorted = <T extends { zone: string; drivers: readonly string[] }>(bs: readonly T[]) => [...bs].sort((x, y) => byKey(x).localeCompare(byKey(y)));
        assert.equal(cluster.hosts, whole.members, 'hosts');
        assert.deepEqual(sorted(cluster.buckets), sorted(whole.buckets), 'buckets: counts, fits, maxima, totals and label filters');
      }),
      fcParams(200),
    );
  });
});
