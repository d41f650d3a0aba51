import assert from 'node:assert/strict';
import {
  decodeDirect,
  decodeTopicMessage,
  encodeDigest,
  encodeSummary,
  encodeSyncReq,
  encodeSyncResp,
  globalTopic,
  type CellSummary,
  type SyncMember,
} from '../../../src/gossip/index.ts';
import { wireSize } from '../../../src/core/index.ts';
import { CLUSTER, districtTopicOf, record, seal, summary, unseal } from './fixtures.ts';

/**
 * Summaries, digests and sync answers are assembled from cached packed tuples (codec.ts).
 * They must be byte for byte what packing the whole body at once gives: peers running an
 * older build, and every checksum, depend on it.
 */
function canonical(bytes: Uint8Array): Uint8Array {
  return seal(unseal(bytes));
}

function summaries(n: number, cellBits: number, membersPerCell: number): CellSummary[] {
  const out: CellSummary[] = [];
  for (let i = 0; i < n; i++) {
    const members = Array.from({ length: membersPerCell }, (_, k) => `peer-${i}-${k}`);
    out.push(summary(members[0]!, cellBits, 1_000 + i, members));
  }
  return out;
}

describe('gossip codec: spliced encodings', () => {
  it('a summary equals its whole-body packing, also on a cached second encoding', () => {
    for (const s of summaries(5, 4, 7)) {
      const first = encodeSummary(s);
      const again = encodeSummary(s);
      assert.deepEqual(first.bytes, canonical(first.bytes), 'a spliced summary must equal packing the whole body');
      assert.deepEqual(again.bytes, first.bytes, 'the cached packing must give the same bytes');
      assert.deepEqual(decodeTopicMessage(districtTopicOf(s.reporter, 4), first.bytes).msg, first.msg, 'summary round trip');
    }
  });

  it('digests of 0, 1, 15, 16 and 40 summaries and versions (fixarray and array16 headers)', () => {
    const all = summaries(40, 8, 3);
    for (const n of [0, 1, 15, 16, 40]) {
      const versions = Array.from({ length: n }, (_, i) => ({ cellBits: 8, cell: i, issuedAtMs: 2 ** 40 + i, contentHash: (i * 0x9e3779b1) >>> 0 }));
      const d = encodeDigest({ cluster: CLUSTER, reporter: 'peer-r', cellBits: 8, districtBits: 0, district: 0, issuedAtMs: 123_456, full: n % 2 === 0, summaries: all.slice(0, n), versions });
      assert.deepEqual(d.bytes, canonical(d.bytes), `a digest of ${n} summaries must equal packing the whole body`);
      if (n > 0) assert.deepEqual(decodeTopicMessage(globalTopic(CLUSTER), d.bytes).msg.type, 'digest', `a digest of ${n} summaries must decode`);
    }
  });

  it('sync answers with 0, 3, 17 members and 0, 16, 64 summaries', () => {
    const ss = summaries(64, 10, 2);
    for (const nm of [0, 3, 17]) {
      const members: SyncMember[] = Array.from({ length: nm }, (_, i) => ({
        record: record(`m${i}`, { seq: i * 1000, incarnation: i === 2 ? 2 ** 40 : 3 }),
        status: (['alive', 'suspect', 'failed', 'left'] as const)[i % 4]!,
        statusIncarnation: [3, 127, 2 ** 40, 128, 0][i % 5]!, // one byte below 128, more from 128 on
      }));
      for (const ns of [0, 16, 64]) {
        const m = { cluster: CLUSTER, cellBits: 10, estimatedSize: 48_123, cell: 517, members, summaries: ss.slice(0, ns), nextCursor: ns === 64 ? 2 ** 10 + 300 : -1, inSync: nm === 0, announced: nm === 1 };
        const enc = encodeSyncResp(m);
        const size = wireSize(enc);
        assert.deepEqual(enc.bytes, canonical(enc.bytes), `a sync answer of ${nm} members and ${ns} summaries must equal packing the whole body`);
        assert.equal(size, enc.bytes.length, 'the size known before the bytes are joined is their length');
        assert.equal(wireSize(enc), size, 'reading the bytes does not change the size');
        const dec = decodeDirect(enc.bytes).msg;
        assert.equal(dec.type, 'sync-resp', 'the answer decodes as a sync answer');
        if (dec.type === 'sync-resp') {
          assert.equal(dec.members.length, nm, 'every member decodes');
          assert.equal(dec.summaries.length, ns, 'every summary decodes');
          assert.equal(dec.nextCursor, m.nextCursor, 'the cursor survives');
        }
      }
    }
  });

  it('sync requests with and without a record and a bitmap of known cells', () => {
    for (const withRecord of [false, true]) {
      for (const have of [null, Uint8Array.of(0x81), Uint8Array.from({ length: 256 }, (_, i) => (i * 37) & 0xff)]) {
        const req = { cluster: CLUSTER, record: withRecord ? record('joiner', { seq: 7 }) : null, wantRecords: withRecord, summaryCursor: have ? 0 : -1, viewHash: withRecord ? 0xdeadbeef : -1, have };
        const enc = encodeSyncReq(req);
        const what = `a sync request ${withRecord ? 'with' : 'without'} a record and a ${have ? `${have.length}-byte` : 'null'} bitmap`;
        assert.deepEqual(enc.bytes, canonical(enc.bytes), `${what} must equal packing the whole body`);
        assert.equal(wireSize(enc), enc.bytes.length, `${what}: its size is its length`);
        const dec = decodeDirect(enc.bytes).msg;
        assert.equal(dec.type, 'sync-req', `${what} decodes as a sync request`);
        if (dec.type === 'sync-req') {
          assert.equal(dec.record?.origin, req.record?.origin, `${what}: the record survives`);
          assert.deepEqual(dec.have === null ? null : [...dec.have], have === null ? null : [...have], `${what}: the bitmap survives`);
          assert.equal(dec.viewHash, req.viewHash, `${what}: the view hash survives`);
        }
      }
    }
  });

  it('an oversized sync answer is refused when encoded, before its bytes are ever joined', () => {
    const big = summaries(3000, 12, 1); // ~100 bytes each: over the 256-KB limit
    assert.throws(
      () => encodeSyncResp({ cluster: CLUSTER, cellBits: 10, estimatedSize: 1, cell: 0, members: [], summaries: big, nextCursor: -1, inSync: false, announced: false }),
      (err: Error & { code?: string }) => err.code === 'GOSSIP_TOO_LARGE' && /exceeds its \d+-byte limit/.test(err.message),
    );
  });
});
