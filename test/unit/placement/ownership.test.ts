import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SeededRng } from '../../../src/core/rng.ts';
import {
  OwnerRegistry,
  PlacementError,
  StaticPlacementView,
  cellOfHash,
  keyCellIn,
  keyHashOf,
  keyHashOfJobId,
  placementJobId,
  rendezvousOwner,
  routeToOwner,
  type RegistrySnapshot,
} from '../../../src/placement/index.ts';
import { FC_SEED, fcParams, member, peerName, record, summarize } from './fixtures.ts';

describe(`placement key ownership (fast-check seed ${FC_SEED})`, () => {
  it('job ids carry the key hash, sort by time, and are recognised', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 47 }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer(), (now, hash, seed) => {
        const id = placementJobId(now, hash, new SeededRng(seed));
        assert.equal(id.length, 22, 'ids are 22 chars');
        assert.equal(keyHashOfJobId(id), hash >>> 0, `id ${id} must decode to key hash ${hash}`);
        const later = placementJobId(now + 1, hash, new SeededRng(seed));
        assert.ok(later > id, 'a later id sorts after an earlier one');
      }),
      fcParams(500),
    );
    assert.equal(keyHashOfJobId('01hx0000000000000000'), null, 'a 20-char ULID is not a placement id');
    assert.equal(keyHashOfJobId('0000000000z00000000000'), null, 'a hash part above 32 bits is rejected');
    assert.equal(keyHashOfJobId('0000000000000000000i00'), null, 'letters outside Crockford base32 are rejected');
  });

  it('moves only the keys of a departed owner (rendezvous hashing)', () => {
    const members = Array.from({ length: 30 }, (_, i) => member(record(peerName(i))));
    const keys = Array.from({ length: 500 }, (_, i) => keyHashOf('default', `key-${i}`));
    const before = keys.map((k) => rendezvousOwner(k, members, null));
    const counts = new Map<string, number>();
    for (const o of before) counts.set(o!, (counts.get(o!) ?? 0) + 1);
    assert.ok(Math.max(...counts.values()) < 40, `500 keys over 30 members should spread (max ${Math.max(...counts.values())})`);
    const gone = peerName(7);
    const after = keys.map((k) => rendezvousOwner(k, members.filter((m) => m.record.origin !== gone), null));
    keys.forEach((_, i) => {
      if (before[i] !== gone) assert.equal(after[i], before[i], `key ${i} moved although its owner ${before[i]} stayed`);
      else assert.notEqual(after[i], gone, 'a departed owner owns nothing');
    });
    const viaAvoid = keys.map((k) => rendezvousOwner(k, members, new Set([gone])));
    assert.deepEqual(viaAvoid, after, 'avoiding a peer gives the same successor as removing it');
    const suspect = members.map((m) => (m.record.origin === gone ? member(m.record, 'suspect') : m));
    assert.deepEqual(keys.map((k) => rendezvousOwner(k, suspect, null)), after, 'a suspect member owns nothing');
  });

  it('routes to itself, to an owner in its cell, or to a contact of the key’s cell', () => {
    const bits = 1;
    const mine = Array.from({ length: 6 }, (_, i) => member(record(`own-${i}`)));
    const theirs = Array.from({ length: 6 }, (_, i) => member(record(`far-${i}`)));
    const view = new StaticPlacementView({ self: 'own-0', ownCell: 0, cellBits: bits, members: mine, summaries: [summarize(1, bits, theirs, 0)] });
    const rng = new SeededRng(5);
    let self = 0;
    let owner = 0;
    let contact = 0;
    for (let i = 0; i < 200; i++) {
      const h = keyHashOf('default', `k${i}`);
      const r = routeToOwner(h, view, rng, null);
      if (cellOfHash(h, bits) === 0) {
        const o = rendezvousOwner(h, mine, null);
        if (o === 'own-0') assert.equal(r.type, 'self', 'the owner handles its keys itself');
        else assert.ok(r.type === 'owner' && r.to === o, `own-cell key goes to its owner ${o}`);
        if (r.type === 'self') self++;
        else owner++;
      } else {
        assert.ok(r.type === 'contact' && r.to.startsWith('far-'), 'a key of the other cell goes to one of its contacts');
        contact++;
      }
    }
    assert.ok(self > 0 && owner > 0 && contact > 0, `all three routes occur (self ${self}, owner ${owner}, contact ${contact})`);
  });

  it('falls back to the next known cell when the key’s cell has no summary', () => {
    const view = new StaticPlacementView({
      self: 'a',
      ownCell: 0,
      cellBits: 2,
      members: [member(record('a'))],
      summaries: [summarize(2, 2, [member(record('c'))], 0)],
    });
    assert.equal(keyCellIn(0x40000000, view), 2, 'cell 1 is unknown: the next known cell clockwise (2) takes it');
    assert.equal(keyCellIn(0xc0000000, view), 0, 'cell 3 is unknown: wrapping around, the own cell 0 takes it');
    assert.equal(keyCellIn(0x80000000, view), 2, 'a known cell keeps its keys');
  });

  it('never owns a key of an unheard cell when cells are too big to be empty: it relays through a contact', () => {
    const bits = 3;
    const big = (cell: number, prefix: string) => summarize(cell, bits, Array.from({ length: 12 }, (_, i) => member(record(`${prefix}-${i}`))), 0);
    const mine = Array.from({ length: 12 }, (_, i) => member(record(`own-${i}`)));
    // Cells 0 (own), 2 and 5 are known; 1, 3, 4, 6, 7 are not heard of yet.
    const view = new StaticPlacementView({ self: 'own-0', ownCell: 0, cellBits: bits, members: mine, summaries: [big(0, 'own'), big(2, 'two'), big(5, 'five')] });
    const rng = new SeededRng(11);
    const keyOfCell = (cell: number) => (cell << (32 - bits)) >>> 0;
    assert.equal(keyCellIn(keyOfCell(1), view), 1, 'cell 1 keeps its keys although unheard (12 hosts per cell: not empty)');
    const viaTwo = routeToOwner(keyOfCell(1), view, rng, null);
    assert.ok(viaTwo.type === 'relay' && viaTwo.to.startsWith('two-') && viaTwo.cell === 1, `relayed through the next known cell 2: ${JSON.stringify(viaTwo)}`);
    const viaOwn = routeToOwner(keyOfCell(7), view, rng, null);
    assert.ok(viaOwn.type === 'relay' && viaOwn.to.startsWith('own-') && viaOwn.to !== 'own-0', `relayed through a contact of the own cell, never itself: ${JSON.stringify(viaOwn)}`);
    const nobody = routeToOwner(keyOfCell(1), view, rng, new Set(['two-0', 'two-1', 'two-2', 'two-3']));
    assert.ok(nobody.type === 'none' && nobody.unheard, `no relay left: none, unheard (${JSON.stringify(nobody)})`);
  });
});

describe('placement OwnerRegistry', () => {
  const req = { tenant: 'default', key: 'k', keyHash: keyHashOf('default', 'k'), specDigest: 'd1' };
  let n = 0;
  const newId = () => placementJobId(1000, req.keyHash, new SeededRng(n++));

  it('serialises one key: start, then in-progress, then placed; another spec conflicts', () => {
    const r = new OwnerRegistry();
    const a = r.begin(req, 0, newId);
    assert.equal(a.type, 'start', 'the first request starts a placement');
    assert.equal(r.begin(req, 1, newId).type, 'in-progress', 'a second request for the same key waits');
    assert.equal(r.begin({ ...req, specDigest: 'd2' }, 1, newId).type, 'conflict', 'another spec under the same key conflicts');
    const bound = r.complete(a.binding.jobId, { host: 'h1', epoch: 1, driver: 'qemu' }, 2);
    assert.equal(bound.state, 'placed');
    const again = r.begin(req, 3, newId);
    assert.ok(again.type === 'placed' && again.binding.jobId === a.binding.jobId && again.binding.host === 'h1', 'a placed key answers with its job');
    assert.equal(r.byJobId(a.binding.jobId)?.host, 'h1', 'the job is found by its id');
  });

  it('frees the key after a refusal, and adopts the host’s job id on a duplicate', () => {
    const r = new OwnerRegistry();
    const a = r.begin(req, 0, newId);
    r.abandon(a.binding.jobId);
    assert.equal(r.get('default', 'k'), undefined, 'a refused placement leaves no binding');
    const b = r.begin(req, 1, newId);
    const other = placementJobId(5, req.keyHash, new SeededRng(99));
    const bound = r.complete(b.binding.jobId, { host: 'h2', epoch: 1, driver: 'fake', admittedJobId: other }, 2);
    assert.equal(bound.jobId, other, 'the binding takes the id the host already held');
    assert.equal(r.byJobId(b.binding.jobId), undefined, 'the unused id is forgotten');
    assert.equal(r.byJobId(other)?.host, 'h2');
  });

  it('reuses a hinted job id of the same key at a higher epoch, and ignores a foreign one', () => {
    const r = new OwnerRegistry();
    const hint = placementJobId(5, req.keyHash, new SeededRng(1));
    const a = r.begin({ ...req, jobIdHint: hint }, 0, newId);
    assert.ok(a.type === 'start' && a.binding.jobId === hint && a.binding.epoch === 2, 'the hint is reused above epoch 1');
    const r2 = new OwnerRegistry();
    const foreign = placementJobId(5, req.keyHash ^ 1, new SeededRng(1));
    const b = r2.begin({ ...req, jobIdHint: foreign }, 0, newId);
    assert.ok(b.type === 'start' && b.binding.jobId !== foreign && b.binding.epoch === 1, 'a hint for another key hash is ignored');
  });

  it('after a restart, restarts an unfinished placement at a higher epoch', () => {
    const r = new OwnerRegistry();
    const a = r.begin(req, 0, newId);
    const restored = new OwnerRegistry(JSON.parse(JSON.stringify(r.snapshot())) as RegistrySnapshot);
    const again = restored.begin(req, 10, newId);
    assert.ok(again.type === 'start' && again.binding.jobId === a.binding.jobId && again.binding.epoch === 2, 'same job, next epoch');
    assert.equal(restored.begin(req, 11, newId).type, 'in-progress', 'and it now counts as running');
  });

  it('adopts handed-over bindings and reports duplicates', () => {
    const r = new OwnerRegistry();
    const a = r.begin(req, 0, newId);
    r.complete(a.binding.jobId, { host: 'h1', epoch: 1, driver: 'qemu' }, 1);
    const other = { ...r.get('default', 'k')!, jobId: 'someone-else', host: 'h9' };
    const fresh = { ...other, key: 'k2', jobId: 'j2' };
    const res = r.adopt([other, fresh]);
    assert.equal(res.adopted, 1, 'only the unknown key is adopted');
    assert.deepEqual(res.duplicates.map((b) => b.jobId), ['someone-else'], 'two placed jobs for one key are reported');
    assert.equal(r.get('default', 'k2')?.jobId, 'j2');
  });

  it('rejects a corrupt snapshot with PLACEMENT_INVALID_SNAPSHOT', () => {
    const bad = { v: 1, bindings: [{ tenant: 'default', key: 'k', keyHash: 1, jobId: 'j', specDigest: 'd', state: 'placed', host: null, epoch: 1, driver: 'qemu', updatedAtMs: 0 }] };
    assert.throws(
      () => new OwnerRegistry(bad as unknown as RegistrySnapshot),
      (err: unknown) => err instanceof PlacementError && err.code === 'PLACEMENT_INVALID_SNAPSHOT' && /has no host/.test(err.message),
      'a placed binding without a host is corrupt',
    );
  });
});
