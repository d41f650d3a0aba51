import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { JobSpec } from '../../../src/core/job.ts';
import { HostLedger, PlacementError, placementSpecDigest, type AdmitRequest, type HostProfile, type LedgerSnapshot } from '../../../src/placement/index.ts';
import { FC_SEED, fcParams, spec } from './fixtures.ts';

const PROFILE: HostProfile = {
  cluster: 'default',
  zone: 'a',
  labels: { energy: 'hydro' },
  drivers: ['qemu', 'process'],
  capacity: { vcpus: 16, memoryMiB: 65536, diskGiB: 500 },
  health: 'ok',
  draining: false,
};

function request(jobId: string, s: JobSpec, epoch = 1): AdmitRequest {
  return { jobId, epoch, spec: s, specDigest: placementSpecDigest(s) };
}

type Op =
  | { op: 'admit'; key: number; vcpus: number; memoryMiB: number; diskGiB: number; group: number | null; variant: number }
  | { op: 'release'; pick: number }
  | { op: 'capacity'; vcpus: number; memoryMiB: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('admit' as const),
      key: fc.integer({ min: 0, max: 30 }),
      vcpus: fc.integer({ min: 1, max: 8 }),
      memoryMiB: fc.integer({ min: 1, max: 32768 }),
      diskGiB: fc.integer({ min: 0, max: 200 }),
      group: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
      variant: fc.integer({ min: 0, max: 1 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('capacity' as const), vcpus: fc.integer({ min: 0, max: 32 }), memoryMiB: fc.integer({ min: 0, max: 131072 }) }) },
);

describe(`placement HostLedger (fast-check seed ${FC_SEED})`, () => {
  it('never overcommits, never duplicates a key, never co-locates a group, under any admit/release/resize sequence', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
        const ledger = new HostLedger(PROFILE);
        let n = 0;
        for (const o of ops) {
          if (o.op === 'admit') {
            const s = spec({
              name: `j${o.variant}`,
              idempotencyKey: `k${o.key}`,
              resources: { vcpus: o.vcpus, memoryMiB: o.memoryMiB, diskGiB: o.diskGiB },
              ...(o.group !== null ? { antiAffinityGroup: `g${o.group}` } : {}),
            });
            const before = ledger.free();
            const existing = ledger.findByKey('default', `k${o.key}`);
            const r = ledger.admit(request(`job-${n++}`, s));
            if (r.type === 'accepted' && !r.duplicate) {
              assert.equal(existing, undefined, 'a new job was created for a key that already had one');
              assert.ok(
                s.resources.vcpus <= before.vcpus && s.resources.memoryMiB <= before.memoryMiB && s.resources.diskGiB <= before.diskGiB,
                `admitted ${JSON.stringify(s.resources)} with only ${JSON.stringify(before)} free`,
              );
            }
            if (r.type === 'accepted' && r.duplicate) assert.equal(r.jobId, existing?.jobId, 'a duplicate must name the existing job');
          } else if (o.op === 'release') {
            const all = [...ledger.reservations()];
            if (all.length > 0) assert.ok(ledger.release(all[o.pick % all.length]!.jobId), 'releasing an existing job must succeed');
          } else {
            ledger.updateProfile({ capacity: { vcpus: o.vcpus, memoryMiB: o.memoryMiB, diskGiB: 500 } });
          }
          // Invariants after every step.
          const res = [...ledger.reservations()];
          const sum = res.reduce((a, r) => ({ v: a.v + r.resources.vcpus, m: a.m + r.resources.memoryMiB, d: a.d + r.resources.diskGiB }), { v: 0, m: 0, d: 0 });
          const cap = ledger.profile.capacity;
          const free = ledger.free();
          assert.deepEqual(free, { vcpus: cap.vcpus - sum.v, memoryMiB: cap.memoryMiB - sum.m, diskGiB: cap.diskGiB - sum.d }, 'free must equal capacity minus reservations');
          const keys = new Set(res.map((r) => `${r.tenant}/${r.key}`));
          assert.equal(keys.size, res.length, 'two reservations share an idempotency key');
          const groups = res.filter((r) => r.antiAffinity !== null).map((r) => r.antiAffinity);
          assert.equal(new Set(groups).size, groups.length, `two jobs of one anti-affinity group on one host: ${groups.join(',')}`);
        }
      }),
      fcParams(300),
    );
  });

  it('same key and same spec is idempotent; same key and another spec is a conflict', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.string({ minLength: 1, maxLength: 20 }), (v1, v2, key) => {
        const ledger = new HostLedger(PROFILE);
        const a = spec({ idempotencyKey: key, resources: { vcpus: v1, memoryMiB: 1024, diskGiB: 0 } });
        const first = ledger.admit(request('job-1', a));
        assert.equal(first.type, 'accepted', 'first admission of a fitting job must be accepted');
        const again = ledger.admit(request('job-2', a));
        assert.ok(again.type === 'accepted' && again.duplicate && again.jobId === 'job-1', 'same key, same spec: the first job, flagged duplicate');
        assert.equal(ledger.size, 1, 'a duplicate must not reserve twice');
        const b = spec({ idempotencyKey: key, resources: { vcpus: v2, memoryMiB: 2048, diskGiB: 0 } });
        const other = ledger.admit(request('job-3', b));
        assert.ok(other.type === 'rejected' && other.code === 'PLACEMENT_IDEMPOTENCY_CONFLICT', `same key, other spec must conflict, got ${JSON.stringify(other)}`);
        assert.equal(ledger.size, 1, 'a conflict must not reserve');
      }),
      fcParams(100),
    );
  });

  it('rejects with a precise reason and message', () => {
    const ledger = new HostLedger(PROFILE);
    const big = ledger.admit(request('j1', spec({ idempotencyKey: 'k1', resources: { vcpus: 2, memoryMiB: 70000, diskGiB: 0 } })));
    assert.ok(big.type === 'rejected', 'too much memory must be rejected');
    assert.equal(big.code, 'PLACEMENT_INSUFFICIENT_RESOURCES');
    assert.equal(big.reason, 'short-memory');
    assert.match(big.message, /memoryMiB: need 70000, free 65536/, 'the message names the short axis with numbers');

    const zone = ledger.admit(request('j2', spec({ idempotencyKey: 'k2', constraints: { zone: 'b', hostLabels: {} } })));
    assert.ok(zone.type === 'rejected' && zone.code === 'PLACEMENT_CONSTRAINT_MISMATCH' && zone.reason === 'other-zone', 'zone mismatch is a constraint rejection');

    ledger.updateProfile({ draining: true });
    const drain = ledger.admit(request('j3', spec({ idempotencyKey: 'k3' })));
    assert.ok(drain.type === 'rejected' && drain.code === 'PLACEMENT_HOST_UNAVAILABLE' && drain.reason === 'draining', 'a draining host takes nothing');
  });

  it('refuses a second job of the same anti-affinity group, per tenant', () => {
    const ledger = new HostLedger(PROFILE);
    assert.equal(ledger.admit(request('j1', spec({ idempotencyKey: 'a', antiAffinityGroup: 'db' }))).type, 'accepted');
    const second = ledger.admit(request('j2', spec({ idempotencyKey: 'b', antiAffinityGroup: 'db' })));
    assert.ok(second.type === 'rejected' && second.code === 'PLACEMENT_ANTI_AFFINITY', 'same tenant, same group must be refused');
    assert.equal(ledger.admit(request('j3', spec({ idempotencyKey: 'c', antiAffinityGroup: 'db', tenant: 'other' }))).type, 'accepted', 'another tenant’s group of the same name is unrelated');
    assert.deepEqual(ledger.antiAffinityGroups().sort(), ['default/db', 'other/db'], 'groups are listed as tenant/group tokens');
    ledger.release('j1');
    assert.equal(ledger.admit(request('j4', spec({ idempotencyKey: 'd', antiAffinityGroup: 'db' }))).type, 'accepted', 'after a release the group may return');
  });

  it('releases only reservations of the given epoch or older', () => {
    const ledger = new HostLedger(PROFILE);
    const s = spec({ idempotencyKey: 'k' });
    ledger.admit(request('j', s, 3));
    assert.equal(ledger.release('j', 2), false, 'a stale release (epoch 2) must not free an epoch-3 reservation');
    assert.equal(ledger.size, 1);
    assert.equal(ledger.release('j', 3), true, 'a release at the same epoch frees it');
    assert.equal(ledger.size, 0);
    assert.deepEqual(ledger.free(), PROFILE.capacity, 'all capacity is free again');
  });

  it('raises a duplicate’s epoch so an older release cannot undo a re-admission', () => {
    const ledger = new HostLedger(PROFILE);
    const s = spec({ idempotencyKey: 'k' });
    ledger.admit(request('j', s, 1));
    const again = ledger.admit(request('j', s, 2));
    assert.ok(again.type === 'accepted' && again.duplicate && again.epoch === 2, 'the duplicate takes the newer epoch');
    assert.equal(ledger.release('j', 1), false, 'the epoch-1 release is stale now');
  });

  it('answers a bad request with PLACEMENT_BAD_REQUEST instead of throwing or reserving', () => {
    const ledger = new HostLedger(PROFILE);
    const s = spec({ idempotencyKey: 'k' });
    const cases: [string, AdmitRequest][] = [
      ['negative vcpus', { ...request('j', s), spec: { ...s, resources: { vcpus: -1, memoryMiB: 1, diskGiB: 0 } } }],
      ['fractional memory', { ...request('j', s), spec: { ...s, resources: { vcpus: 1, memoryMiB: 0.5, diskGiB: 0 } } }],
      ['no key', { ...request('j', s), spec: { ...s, idempotencyKey: undefined } }],
      ['epoch 0', { ...request('j', s), epoch: 0 }],
      ['empty job id', { ...request('', s) }],
    ];
    for (const [what, req] of cases) {
      const r = ledger.admit(req);
      assert.ok(r.type === 'rejected' && r.code === 'PLACEMENT_BAD_REQUEST', `${what}: expected PLACEMENT_BAD_REQUEST, got ${JSON.stringify(r)}`);
    }
    assert.equal(ledger.size, 0, 'bad requests reserve nothing');
  });

  it('restores exactly what it snapshotted, and rejects a corrupt snapshot precisely', () => {
    const ledger = new HostLedger(PROFILE);
    ledger.admit(request('j1', spec({ idempotencyKey: 'a', antiAffinityGroup: 'g', resources: { vcpus: 3, memoryMiB: 3000, diskGiB: 30 } })));
    ledger.admit(request('j2', spec({ idempotencyKey: 'b', resources: { vcpus: 1, memoryMiB: 1000, diskGiB: 0 } })));
    const snap = JSON.parse(JSON.stringify(ledger.snapshot())) as LedgerSnapshot;
    const restored = new HostLedger(PROFILE, snap);
    assert.deepEqual(restored.free(), ledger.free(), 'restored free capacity matches');
    assert.deepEqual(restored.antiAffinityGroups(), ledger.antiAffinityGroups(), 'restored groups match');
    const dup = restored.admit(request('j9', spec({ idempotencyKey: 'a', antiAffinityGroup: 'g', resources: { vcpus: 3, memoryMiB: 3000, diskGiB: 30 } })));
    assert.ok(dup.type === 'accepted' && dup.duplicate && dup.jobId === 'j1', 'the idempotency index survives a restore');

    const corrupt = { v: 1, reservations: [snap.reservations[0], { ...snap.reservations[1]!, jobId: snap.reservations[0]!.jobId }] } as LedgerSnapshot;
    assert.throws(
      () => new HostLedger(PROFILE, corrupt),
      (err: unknown) => err instanceof PlacementError && err.code === 'PLACEMENT_INVALID_SNAPSHOT' && /appears twice/.test(err.message),
      'a duplicated job id must be reported as PLACEMENT_INVALID_SNAPSHOT',
    );
    assert.throws(
      () => new HostLedger(PROFILE, { v: 2, reservations: [] } as unknown as LedgerSnapshot),
      (err: unknown) => err instanceof PlacementError && err.code === 'PLACEMENT_INVALID_SNAPSHOT',
      'an unknown snapshot version must be rejected',
    );
  });
});
