import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SeededRng } from '../../../src/core/rng.ts';
import type { DriverName } from '../../../src/core/job.ts';
import type { MemberStatus, MemberView } from '../../../src/gossip/records.ts';
import {
  HostSelector,
  RefusalTally,
  demandOf,
  fullnessAfter,
  hostRefusal,
  hostScore,
  leftoverAfter,
  pickDriver,
  preferenceScore,
  type PlacementDemand,
} from '../../../src/placement/index.ts';
import { FC_SEED, fcParams, member, record, spec } from './fixtures.ts';

const ZONES = ['a', 'b'] as const;
const GROUP = 'default/web';

const hostArb = fc
  .record({
    zone: fc.constantFrom(...ZONES),
    energy: fc.constantFrom('hydro', 'coal', undefined),
    drivers: fc.subarray(['qemu', 'libvirt', 'process', 'fake'] as DriverName[], { minLength: 0 }),
    capV: fc.integer({ min: 1, max: 64 }),
    capM: fc.integer({ min: 1024, max: 262144 }),
    capD: fc.integer({ min: 0, max: 2000 }),
    usedFrac: fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
    health: fc.constantFrom('ok', 'ok', 'ok', 'degraded') as fc.Arbitrary<'ok' | 'degraded'>,
    draining: fc.constantFrom(false, false, false, true),
    status: fc.constantFrom('alive', 'alive', 'alive', 'alive', 'suspect', 'failed') as fc.Arbitrary<MemberStatus>,
    group: fc.boolean(),
  })
  .map((h) => (i: number): MemberView => {
    const capacity = { vcpus: h.capV, memoryMiB: h.capM, diskGiB: h.capD };
    const free = {
      vcpus: Math.floor(h.capV * (1 - h.usedFrac[0])),
      memoryMiB: Math.floor(h.capM * (1 - h.usedFrac[1])),
      diskGiB: Math.floor(h.capD * (1 - h.usedFrac[2])),
    };
    return member(
      record(`h${i}`, {
        zone: h.zone,
        labels: h.energy === undefined ? {} : { energy: h.energy },
        drivers: h.drivers,
        capacity,
        free,
        health: h.health,
        draining: h.draining,
        antiAffinityGroups: h.group ? [GROUP] : [],
      }),
      h.status,
    );
  });

const cellArb = fc.array(hostArb, { minLength: 0, maxLength: 40 }).map((makers) => makers.map((make, i) => make(i)));

function demandArb(opts: { preferences: boolean }): fc.Arbitrary<PlacementDemand> {
  return fc
    .record({
      vcpus: fc.integer({ min: 1, max: 16 }),
      memoryMiB: fc.integer({ min: 256, max: 65536 }),
      diskGiB: fc.integer({ min: 0, max: 200 }),
      kind: fc.constantFrom('vm', 'process') as fc.Arbitrary<'vm' | 'process'>,
      zone: fc.constantFrom(undefined, ...ZONES),
      label: fc.boolean(),
      group: fc.boolean(),
      policy: fc.constantFrom('binpack', 'spread') as fc.Arbitrary<'binpack' | 'spread'>,
      prefWeight: fc.integer({ min: -10, max: 10 }),
    })
    .map((d) =>
      demandOf(
        spec({
          kind: d.kind,
          ...(d.kind === 'process' ? { command: ['sleep', '1'] } : {}),
          resources: { vcpus: d.vcpus, memoryMiB: d.memoryMiB, diskGiB: d.diskGiB },
          constraints: { ...(d.zone ? { zone: d.zone } : {}), hostLabels: d.label ? { energy: 'hydro' } : {} },
          ...(d.group ? { antiAffinityGroup: 'web' } : {}),
          policy: d.policy,
          preferences: opts.preferences ? [{ label: 'energy', value: 'hydro', weight: d.prefWeight }] : [],
        }),
      ),
    );
}

describe('placement feasibility', () => {
  const d = demandOf(spec({ resources: { vcpus: 4, memoryMiB: 65536, diskGiB: 10 }, constraints: { zone: 'b', hostLabels: { energy: 'hydro' } }, antiAffinityGroup: 'web' }));
  const ok = record('h', { zone: 'b', labels: { energy: 'hydro' } });

  it('passes a host that meets every constraint', () => {
    assert.equal(hostRefusal(d, ok, ok.free, 'alive'), null, 'a matching alive healthy host with room must pass');
  });

  it('names the first failing reason for each kind of mismatch', () => {
    const cases: [string, ReturnType<typeof record>, MemberStatus, string][] = [
      ['other zone', record('h', { zone: 'a', labels: { energy: 'hydro' } }), 'alive', 'other-zone'],
      ['missing label', record('h', { zone: 'b', labels: { energy: 'coal' } }), 'alive', 'missing-label'],
      ['no driver for vm', record('h', { zone: 'b', labels: { energy: 'hydro' }, drivers: ['process'] }), 'alive', 'no-driver'],
      ['suspect member', ok, 'suspect', 'not-alive'],
      ['degraded', record('h', { zone: 'b', labels: { energy: 'hydro' }, health: 'degraded' }), 'alive', 'unhealthy'],
      ['draining', record('h', { zone: 'b', labels: { energy: 'hydro' }, draining: true }), 'alive', 'draining'],
      ['anti-affinity', record('h', { zone: 'b', labels: { energy: 'hydro' }, antiAffinityGroups: [GROUP] }), 'alive', 'anti-affinity'],
      [
        'memory short',
        record('h', { zone: 'b', labels: { energy: 'hydro' }, free: { vcpus: 32, memoryMiB: 65535, diskGiB: 1000 } }),
        'alive',
        'short-memory',
      ],
      ['vcpus short', record('h', { zone: 'b', labels: { energy: 'hydro' }, free: { vcpus: 3, memoryMiB: 131072, diskGiB: 1000 } }), 'alive', 'short-vcpus'],
      ['disk short', record('h', { zone: 'b', labels: { energy: 'hydro' }, free: { vcpus: 32, memoryMiB: 131072, diskGiB: 9 } }), 'alive', 'short-disk'],
    ];
    for (const [what, host, status, want] of cases) {
      assert.equal(hostRefusal(d, host, host.free, status), want, `${what}: expected reason ${want}`);
    }
  });

  it('checks the pinned driver and otherwise prefers a real driver over fake', () => {
    assert.equal(pickDriver({ kind: 'vm', driver: undefined }, ['fake', 'libvirt']), 'libvirt', 'a real driver beats fake');
    assert.equal(pickDriver({ kind: 'vm', driver: undefined }, ['fake']), 'fake', 'fake runs anything when alone');
    assert.equal(pickDriver({ kind: 'vm', driver: 'qemu' }, ['libvirt']), undefined, 'a pinned driver must be present');
    assert.equal(pickDriver({ kind: 'process', driver: undefined }, ['qemu', 'process']), 'process', 'process jobs need the process driver');
    const pinned = demandOf(spec({ driver: 'libvirt' }));
    assert.equal(hostRefusal(pinned, record('h', { drivers: ['qemu'] }), record('h').free), 'no-driver', 'pinned libvirt on a qemu-only host');
  });
});

describe('placement scoring', () => {
  it('binpack prefers the fuller host, spread the emptier one', () => {
    const cap = { vcpus: 10, memoryMiB: 10240, diskGiB: 100 };
    const want = { vcpus: 1, memoryMiB: 1024, diskGiB: 0 };
    const full = fullnessAfter(cap, { vcpus: 2, memoryMiB: 2048, diskGiB: 20 }, want);
    const empty = fullnessAfter(cap, { vcpus: 10, memoryMiB: 10240, diskGiB: 100 }, want);
    assert.ok(full > empty, `fullness after placing on a busy host (${full}) must exceed an idle one (${empty})`);
    const busy = demandOf(spec({ policy: 'binpack' }));
    const idle = demandOf(spec({ policy: 'spread' }));
    const a = { vcpus: 2, memoryMiB: 2048, diskGiB: 20 };
    const b = cap;
    assert.ok(hostScore(busy, cap, a, {}) > hostScore(busy, cap, b, {}), 'binpack scores the busy host higher');
    assert.ok(hostScore(idle, cap, b, {}) > hostScore(idle, cap, a, {}), 'spread scores the idle host higher');
  });

  it('binpack leaves the smallest hole, measured against the largest host compared', () => {
    const d = demandOf(spec({ policy: 'binpack', resources: { vcpus: 2, memoryMiB: 2048, diskGiB: 0 } }));
    const big = { vcpus: 128, memoryMiB: 131072, diskGiB: 0 };
    const small = { vcpus: 64, memoryMiB: 65536, diskGiB: 0 };
    // Left after the job: 8 cores on the big host (94% full), 6 on the small one (91% full).
    const bigFree = { vcpus: 10, memoryMiB: 10240, diskGiB: 0 };
    const smallFree = { vcpus: 8, memoryMiB: 8192, diskGiB: 0 };
    assert.ok(hostScore(d, big, bigFree, {}) > hostScore(d, small, smallFree, {}), 'each against its own capacity, the fuller big host wins');
    assert.ok(hostScore(d, small, smallFree, {}, false, big) > hostScore(d, big, bigFree, {}, false, big), 'against the largest host, the smaller hole wins');
    assert.equal(leftoverAfter(smallFree, d.resources, big), 6 / 128, 'the hole in fractions of the scale, averaged over axes with a scale');
    assert.equal(hostScore(d, big, bigFree, {}, false, big), hostScore(d, big, bigFree, {}), 'a host measured against itself scores as before');
  });

  it('binpack opens an empty host only after every used one, and the largest empty host first', () => {
    const d = demandOf(spec({ policy: 'binpack' }));
    const small = { vcpus: 16, memoryMiB: 65536, diskGiB: 500 };
    const large = { vcpus: 128, memoryMiB: 524288, diskGiB: 4000 };
    const almostEmpty = { vcpus: 127, memoryMiB: 524288, diskGiB: 4000 };
    assert.ok(hostScore(d, large, almostEmpty, {}, false) > hostScore(d, small, small, {}, true), 'a used host, however empty, beats an empty one');
    assert.ok(hostScore(d, large, large, {}, true) > hostScore(d, small, small, {}, true), 'the largest empty host opens first');
  });

  it('adds value preferences and numeric label preferences', () => {
    assert.equal(preferenceScore([{ label: 'energy', value: 'hydro', weight: 5 }], { energy: 'hydro' }), 5, 'value match adds its weight');
    assert.equal(preferenceScore([{ label: 'energy', value: 'hydro', weight: 5 }], { energy: 'coal' }), 0, 'a mismatch adds nothing');
    assert.equal(preferenceScore([{ label: 'price', weight: -2 }], { price: '0.25' }), -0.5, 'numeric value × weight');
    assert.equal(preferenceScore([{ label: 'price', weight: -2 }], { price: 'cheap' }), 0, 'a non-numeric value adds nothing');
    assert.equal(preferenceScore([{ label: 'price', weight: -2 }], {}), 0, 'a missing label adds nothing');
    const d = demandOf(spec({ policy: 'binpack', preferences: [{ label: 'price', weight: -10 }] }));
    const cap = { vcpus: 10, memoryMiB: 10240, diskGiB: 100 };
    assert.ok(hostScore(d, cap, cap, { price: '0.1' }) > hostScore(d, cap, { vcpus: 2, memoryMiB: 2048, diskGiB: 20 }, { price: '0.5' }), 'a cheaper host outranks a fuller but pricier one');
  });
});

/** The largest capacity per axis among the feasible hosts: binpack's scale (host-selection.ts). */
function scaleOf(d: PlacementDemand, cell: readonly MemberView[]): { vcpus: number; memoryMiB: number; diskGiB: number } {
  const scale = { vcpus: 0, memoryMiB: 0, diskGiB: 0 };
  for (const m of cell) {
    if (hostRefusal(d, m.record, m.record.free, m.status) !== null) continue;
    const c = m.record.capacity;
    scale.vcpus = Math.max(scale.vcpus, c.vcpus);
    scale.memoryMiB = Math.max(scale.memoryMiB, c.memoryMiB);
    scale.diskGiB = Math.max(scale.diskGiB, c.diskGiB);
  }
  return scale;
}

/** Holds nothing yet: binpack opens such hosts last, the largest first (scoring.ts). */
function isEmpty(m: MemberView): boolean {
  const { capacity: c, free: f } = m.record;
  return f.vcpus >= c.vcpus && f.memoryMiB >= c.memoryMiB && f.diskGiB >= c.diskGiB;
}

describe(`placement host selection (fast-check seed ${FC_SEED})`, () => {
  it('always chooses a feasible host, and chooses none only when none is feasible', () => {
    fc.assert(
      fc.property(cellArb, demandArb({ preferences: true }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 8 }), fc.integer(), (cell, d, choices, topK, seed) => {
        const selector = new HostSelector({ choices: Math.min(choices, topK), topK });
        const tally = new RefusalTally();
        const chosen = selector.select(d, cell, { rng: new SeededRng(seed), now: 0, overlay: null, excluded: null, tally });
        const feasible = cell.filter((m) => hostRefusal(d, m.record, m.record.free, m.status) === null);
        assert.equal(tally.checked, cell.length, 'every member is checked once');
        assert.equal(tally.refused(), cell.length - feasible.length, 'refusal counts add up to the infeasible hosts');
        if (chosen === null) {
          assert.equal(feasible.length, 0, 'no host chosen although one is feasible');
        } else {
          assert.equal(hostRefusal(d, chosen.record, chosen.record.free, chosen.status), null, `chosen host ${chosen.record.origin} is not feasible`);
          const scale = scaleOf(d, cell);
          const score = (m: MemberView) => hostScore(d, m.record.capacity, m.record.free, m.record.labels, isEmpty(m), scale);
          const better = feasible.filter((m) => score(m) > score(chosen)).length;
          assert.ok(better < topK, `chosen host must be among the top ${topK} (it has ${better} strictly better hosts)`);
        }
      }),
      fcParams(300),
    );
  });

  for (const policy of ['spread', 'binpack'] as const) {
    it(`${policy} never picks ${policy === 'spread' ? 'a fuller' : 'an emptier'} host when ${policy === 'spread' ? 'an emptier' : 'a fuller'} sampled one is feasible`, () => {
      fc.assert(
        fc.property(cellArb, demandArb({ preferences: false }), fc.integer(), (cell, d0, seed) => {
          const d: PlacementDemand = { ...d0, policy };
          const selector = new HostSelector({ choices: 2, topK: 4 });
          const chosen = selector.select(d, cell, { rng: new SeededRng(seed), now: 0, overlay: null, excluded: null, tally: new RefusalTally() });
          if (chosen === null) return;
          const after = (m: MemberView) => fullnessAfter(m.record.capacity, m.record.free, d.resources);
          const scale = scaleOf(d, cell);
          const left = (m: MemberView) => leftoverAfter(m.record.free, d.resources, scale);
          assert.ok(selector.lastSampled.includes(chosen), 'the chosen host is one of the sampled');
          for (const s of selector.lastSampled) {
            assert.equal(hostRefusal(d, s.record, s.record.free, s.status), null, 'only feasible hosts are sampled');
            if (policy === 'spread') assert.ok(after(chosen) <= after(s), `spread chose fullness ${after(chosen)} over sampled ${after(s)}`);
            else if (!isEmpty(chosen)) assert.ok(isEmpty(s) || left(chosen) <= left(s), `binpack left ${left(chosen)} of the scale over a sampled used host leaving ${left(s)}`);
            else {
              // An empty host is opened only when no sampled host is in use, and the largest first.
              assert.ok(isEmpty(s), `binpack opened an empty host although sampled ${s.record.origin} is in use`);
              assert.ok(after(chosen) <= after(s), `binpack opened an empty host left at fullness ${after(chosen)} over a larger one (${after(s)})`);
            }
          }
        }),
        fcParams(300),
      );
    });
  }

  it('spreads concurrent choices over the top candidates instead of herding on one', () => {
    const cell = Array.from({ length: 20 }, (_, i) => member(record(`h${i}`)));
    const d = demandOf(spec({ policy: 'spread' }));
    const selector = new HostSelector({ choices: 2, topK: 4 });
    const rng = new SeededRng(11);
    const picks = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const m = selector.select(d, cell, { rng, now: 0, overlay: null, excluded: null, tally: new RefusalTally() })!;
      picks.set(m.record.origin, (picks.get(m.record.origin) ?? 0) + 1);
    }
    const most = Math.max(...picks.values());
    assert.ok(picks.size >= 10, `identical hosts should be picked widely, got ${picks.size} distinct of 20`);
    assert.ok(most < 120, `no host should take more than 30% of 400 picks, one took ${most}`);
  });

  it('binpack takes the used host that keeps the smallest hole, whatever the hosts\' sizes', () => {
    const d = demandOf(spec({ policy: 'binpack', resources: { vcpus: 2, memoryMiB: 2048, diskGiB: 0 } }));
    // After the job: 8 cores left on the 128-core host (94% full), 6 on the 64-core one (91%).
    const big = member(record('big', { capacity: { vcpus: 128, memoryMiB: 131072, diskGiB: 0 }, free: { vcpus: 10, memoryMiB: 10240, diskGiB: 0 } }));
    const small = member(record('small', { capacity: { vcpus: 64, memoryMiB: 65536, diskGiB: 0 }, free: { vcpus: 8, memoryMiB: 8192, diskGiB: 0 } }));
    for (const cell of [
      [big, small],
      [small, big],
    ]) {
      const chosen = new HostSelector({ choices: 1, topK: 1 }).select(d, cell, { rng: new SeededRng(1), now: 0, overlay: null, excluded: null, tally: new RefusalTally() });
      assert.equal(chosen?.record.origin, 'small', 'a central best-fit would leave 6 cores free, not 8');
    }
  });

  it('binpack opens one host at a time: every coordinator picks the same empty host', () => {
    const d = demandOf(spec({ policy: 'binpack' }));
    const cap = { vcpus: 64, memoryMiB: 262144, diskGiB: 1000 };
    const cell = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7'].map((id) => member(record(id, { capacity: cap, free: cap })));
    const picks = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const selector = new HostSelector({ choices: 1, topK: 6 });
      const chosen = selector.select(d, cell, { rng: new SeededRng(seed), now: 0, overlay: null, excluded: null, tally: new RefusalTally() });
      picks.add(chosen!.record.origin);
    }
    assert.equal(picks.size, 1, `20 coordinators opened ${[...picks].join(', ')}: concurrent openers must share one new host`);
    // spread still draws at random among equals.
    const spreadPicks = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const chosen = new HostSelector({ choices: 1, topK: 6 }).select({ ...d, policy: 'spread' }, cell, { rng: new SeededRng(seed), now: 0, overlay: null, excluded: null, tally: new RefusalTally() });
      spreadPicks.add(chosen!.record.origin);
    }
    assert.ok(spreadPicks.size > 1, 'spread keeps drawing among equally empty hosts');
  });

  it('skips excluded hosts and counts them', () => {
    const cell = [member(record('h0')), member(record('h1'))];
    const tally = new RefusalTally();
    const chosen = new HostSelector({ choices: 2, topK: 4 }).select(demandOf(spec()), cell, {
      rng: new SeededRng(1),
      now: 0,
      overlay: null,
      excluded: new Set(['h0']),
      tally,
    });
    assert.equal(chosen?.record.origin, 'h1', 'the excluded host must not be chosen');
    assert.equal(tally.count('already-tried'), 1, 'the excluded host is counted as already tried');
  });
});
