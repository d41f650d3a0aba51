import assert from 'node:assert/strict';
import { hashPrefix } from '../../../src/core/hash.ts';
import {
  GossipValidationError,
  MESSAGE_LIMITS,
  decodeDirect,
  decodeTopicMessage,
  encodeAccuse,
  encodeAck,
  encodeNack,
  encodeDigest,
  encodeEvents,
  encodePing,
  encodePingReq,
  encodeRecord,
  encodeSummary,
  encodeSyncReq,
  encodeSyncResp,
  globalTopic,
  summaryContentHash,
  type GossipReason,
} from '../../../src/gossip/index.ts';
import { CLUSTER, cellTopicOf, districtTopicOf, peerInside, peerOutside, record, seal, summary, unseal } from './fixtures.ts';

function expectRefusal(fn: () => unknown, code: GossipReason, action: 'reject' | 'ignore'): GossipValidationError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GossipValidationError, `expected a GossipValidationError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    assert.equal(err.action, action, `expected action ${action} for ${code}`);
    return err;
  }
  assert.fail(`expected ${code}, but decoding succeeded`);
}

describe('gossip codec', () => {
  const r = record('peerA');
  const topicA = cellTopicOf('peerA', 2);

  describe('round trips', () => {
    it('a host record, with every field', () => {
      const enc = encodeRecord(r);
      const dec = decodeTopicMessage(topicA, enc.bytes);
      assert.equal(dec.msg.type, 'record');
      assert.deepEqual(dec.msg.type === 'record' && { ...dec.msg.record, labels: { ...dec.msg.record.labels } }, { ...r, labels: { ...r.labels } }, 'decoded record must equal the encoded one');
      assert.ok(enc.bytes.length < 220, `a typical record should stay small, got ${enc.bytes.length} bytes`);
    });

    it('member events, a summary, a digest', () => {
      const ev = encodeEvents(CLUSTER, 'peerA', [{ kind: 'suspect', peer: 'peerA', incarnation: 4, confirmations: 1 }]);
      assert.deepEqual(decodeTopicMessage(topicA, ev.bytes).msg, ev.msg, 'events round trip');
      const s = summary('peerA', 2, 1000, ['peerA', 'b', 'c', 'd']);
      const se = encodeSummary(s);
      assert.deepEqual(decodeTopicMessage(districtTopicOf('peerA', 2), se.bytes).msg, se.msg, 'summary round trip');
      const d = encodeDigest({ cluster: CLUSTER, reporter: 'peerA', cellBits: 2, districtBits: 0, district: 0, issuedAtMs: 5, full: true, summaries: [s], versions: [] });
      assert.deepEqual(decodeTopicMessage(globalTopic(CLUSTER), d.bytes).msg, d.msg, 'digest round trip');
      const refresh = encodeDigest({ ...d.msg, summaries: [], versions: [{ cellBits: 2, cell: 3, issuedAtMs: 999, contentHash: 0 }, { cellBits: 3, cell: 0, issuedAtMs: 2 ** 40, contentHash: 0xffffffff }] });
      assert.deepEqual(decodeTopicMessage(globalTopic(CLUSTER), refresh.bytes).msg, refresh.msg, 'a refresh by versions round trips');
      assert.ok(refresh.bytes.length < 110, `two versions must cost a few bytes each, got ${refresh.bytes.length} B`);
    });

    it('a summary names a reporter among its contacts by index, any other by peer id', () => {
      const s = summary('peerA', 2, 1000, ['peerA', 'b']);
      const asContact = encodeSummary(s);
      assert.equal(unseal(asContact.bytes)[5], 0, 'the reporter is contact 0');
      const mate = peerInside(s.cell, 2, 'm');
      const notContact = encodeSummary({ ...s, contacts: [{ peer: mate, addrs: [] }] });
      assert.equal(unseal(notContact.bytes)[5], 'peerA');
      for (const enc of [asContact, notContact]) {
        const dec = decodeTopicMessage(districtTopicOf('peerA', 2), enc.bytes).msg;
        assert.equal(dec.type === 'summary' && dec.summary.reporter, 'peerA');
      }
      const t = unseal(asContact.bytes);
      t[5] = 1; // one contact only
      expectRefusal(() => decodeTopicMessage(districtTopicOf('peerA', 2), seal(t)), 'GOSSIP_BOUNDS', 'reject');
    });

    it('a digest from an agent before versions (8 fields) reads as naming none', () => {
      const d = encodeDigest({ cluster: CLUSTER, reporter: 'peerA', cellBits: 2, districtBits: 0, district: 0, issuedAtMs: 5, full: true, summaries: [], versions: [] });
      const old = unseal(d.bytes).slice(0, 10);
      assert.deepEqual(decodeTopicMessage(globalTopic(CLUSTER), seal(old)).msg, d.msg);
    });

    it('a summary\'s content hash ignores issuedAtMs and nothing else', () => {
      const s = summary('peerA', 2, 1000, ['peerA', 'b', 'c']);
      assert.equal(summaryContentHash({ ...s, issuedAtMs: 99_999 }), summaryContentHash(s), 'a reissue of the same content');
      assert.notEqual(summaryContentHash({ ...s, members: s.members + 1 }), summaryContentHash(s), 'a member more');
      assert.notEqual(summaryContentHash({ ...s, contacts: s.contacts.slice(1) }), summaryContentHash(s), 'other contacts');
      assert.notEqual(summaryContentHash({ ...s, reporter: 'peerB' }), summaryContentHash(s), 'another reporter');
      const b = s.buckets[0]!;
      assert.notEqual(summaryContentHash({ ...s, buckets: [{ ...b, totalFree: { ...b.totalFree, vcpus: b.totalFree.vcpus - 1 } }] }), summaryContentHash(s), 'one vCPU less free');
    });

    it('a digest naming a version outside its district, or a malformed one, is rejected', () => {
      const reporter = peerInside(0, 1);
      const base = { cluster: CLUSTER, reporter, cellBits: 3, districtBits: 1, district: 0, issuedAtMs: 5, full: true, summaries: [] };
      const ok = encodeDigest({ ...base, versions: [{ cellBits: 3, cell: 3, issuedAtMs: 1, contentHash: 7 }] });
      assert.equal(decodeTopicMessage(globalTopic(CLUSTER), ok.bytes).msg.type, 'digest');
      const outside = encodeDigest({ ...base, versions: [{ cellBits: 3, cell: 4, issuedAtMs: 1, contentHash: 7 }] });
      expectRefusal(() => decodeTopicMessage(globalTopic(CLUSTER), outside.bytes), 'GOSSIP_WRONG_CELL', 'reject');
      const t = unseal(ok.bytes);
      expectRefusal(() => decodeTopicMessage(globalTopic(CLUSTER), seal([...t.slice(0, 10), [[3, 3, 1]]])), 'GOSSIP_SCHEMA', 'reject'); // no content hash
      expectRefusal(() => decodeTopicMessage(globalTopic(CLUSTER), seal([...t.slice(0, 10), [[0, 0, 1, 7]]])), 'GOSSIP_BOUNDS', 'reject'); // coarser than the district
    });

    it('every direct message', () => {
      const msgs = [
        encodePing(7),
        encodeAck(0xffffffff),
        encodePingReq(9, 'peerB'),
        encodeAccuse('peerB', 12),
        encodeSyncReq({ cluster: CLUSTER, record: r, wantRecords: true, summaryCursor: 0, viewHash: 0xfedcba98 }),
        encodeSyncReq({ cluster: CLUSTER, record: null, wantRecords: false, summaryCursor: -1, viewHash: -1 }),
        encodeSyncReq({ cluster: CLUSTER, record: null, wantRecords: false, summaryCursor: 5, viewHash: -1, have: Uint8Array.of(0x0f, 0xf0) }),
        encodeSyncResp({ cluster: CLUSTER, cellBits: 2, estimatedSize: 12, cell: 1, members: [{ record: r, status: 'suspect', statusIncarnation: 3 }], summaries: [summary('peerA', 2, 9)], nextCursor: -2, inSync: false, announced: false }),
        encodeSyncResp({ cluster: CLUSTER, cellBits: 2, estimatedSize: 12, cell: 1, members: [], summaries: [], nextCursor: -1, inSync: true, announced: true }),
      ];
      for (const m of msgs) {
        const dec = decodeDirect(m.bytes);
        assert.equal(JSON.stringify(dec.msg), JSON.stringify(m.msg), `${m.msg.type} must round-trip`);
      }
    });
  });

  it('hand-sealed probes are valid msgpack that the generic path decodes the same way', () => {
    for (const enc of [encodePing(0), encodePing(0xffffffff), encodeAck(12345), encodeNack(7)]) {
      assert.equal(enc.bytes.length, 12, 'a probe is 12 bytes');
      const tuple = unseal(enc.bytes);
      assert.deepEqual(tuple.slice(2), [(enc.msg as { seq: number }).seq], 'msgpackr reads the same seq');
      // Re-encoded by msgpackr (seq as the smallest int form), the generic decoder must agree.
      assert.deepEqual(decodeDirect(seal(tuple)).msg, enc.msg);
      assert.deepEqual(decodeDirect(enc.bytes).msg, enc.msg);
    }
  });

  describe('refusals', () => {
    it("a repair's bitmap of known cells: bytes, a power of two, at most 2^16 cells", () => {
      const ok = encodeSyncReq({ cluster: CLUSTER, record: null, wantRecords: false, summaryCursor: 5, viewHash: -1, have: new Uint8Array(256) });
      const t = unseal(ok.bytes);
      assert.equal(decodeDirect(ok.bytes).msg.type, 'sync-req');
      assert.equal(unseal(encodeSyncReq({ cluster: CLUSTER, record: null, wantRecords: false, summaryCursor: -1, viewHash: -1 }).bytes)[7], null, 'no bitmap: nil');
      expectRefusal(() => decodeDirect(seal([...t.slice(0, 7), new Uint8Array(3)])), 'GOSSIP_BOUNDS', 'reject');
      expectRefusal(() => decodeDirect(seal([...t.slice(0, 7), new Uint8Array(16384)])), 'GOSSIP_BOUNDS', 'reject');
      expectRefusal(() => decodeDirect(seal([...t.slice(0, 7), 'ff'])), 'GOSSIP_SCHEMA', 'reject');
      assert.equal(decodeDirect(seal(t.slice(0, 7))).msg.type, 'sync-req', 'an older peer without the field still decodes');
    });

    it('oversized: rejected before anything is parsed', () => {
      expectRefusal(() => decodeTopicMessage(topicA, new Uint8Array(MESSAGE_LIMITS.digest + 1)), 'GOSSIP_TOO_LARGE', 'reject');
      // A record-typed message bigger than the record limit, but under the topic-wide one.
      const big = seal([1, 1, ...Array.from({ length: 14 }, () => 'x'.repeat(1000)), 'y'.repeat(MESSAGE_LIMITS.record)]);
      expectRefusal(() => decodeTopicMessage(topicA, big), 'GOSSIP_TOO_LARGE', 'reject');
    });

    it('an alive event carries the newcomer\'s record; malformed ones are rejected', () => {
      const cellA = hashPrefix('peerA', 2);
      const newcomer = record(peerInside(cellA, 2, 'new'));
      const ev = encodeEvents(CLUSTER, 'peerA', [
        { kind: 'alive', peer: newcomer.origin, incarnation: newcomer.incarnation, confirmations: 0, record: newcomer },
        { kind: 'suspect', peer: 'peerA', incarnation: 4, confirmations: 1 },
      ]);
      assert.deepEqual(JSON.parse(JSON.stringify(decodeTopicMessage(topicA, ev.bytes).msg)), JSON.parse(JSON.stringify(ev.msg)), 'alive events round-trip with their record');
      const t = unseal(ev.bytes);
      const withEvents = (events: unknown[]): Uint8Array => seal([...t.slice(0, 4), events]);
      const alive = (t[4] as unknown[][])[0]!;
      const suspect = (t[4] as unknown[][])[1]!;
      expectRefusal(() => decodeTopicMessage(topicA, withEvents([alive.slice(0, 4)])), 'GOSSIP_SCHEMA', 'reject'); // no record
      expectRefusal(() => decodeTopicMessage(topicA, withEvents([[...suspect, alive[4]]])), 'GOSSIP_SCHEMA', 'reject'); // a record on a suspicion
      expectRefusal(() => decodeTopicMessage(topicA, withEvents([[4, newcomer.origin, newcomer.incarnation, 0, unseal(encodeRecord(r).bytes).slice(2)]])), 'GOSSIP_SCHEMA', 'reject'); // someone else's record
      const outsider = record(peerOutside(cellA, 2));
      expectRefusal(() => decodeTopicMessage(topicA, withEvents([[4, outsider.origin, outsider.incarnation, 0, unseal(encodeRecord(outsider).bytes).slice(2)]])), 'GOSSIP_WRONG_CELL', 'reject');
      expectRefusal(() => decodeTopicMessage(topicA, withEvents(Array.from({ length: 17 }, () => alive))), 'GOSSIP_SCHEMA', 'reject'); // over MAX_ANNOUNCED_PER_MESSAGE
    });

    it('an encoder refuses to build an oversized message', () => {
      const fat = record('peerA', { addrs: Array.from({ length: 8 }, () => '/'.padEnd(256, 'a')), antiAffinityGroups: Array.from({ length: 32 }, () => 'g'.repeat(128)) });
      assert.doesNotThrow(() => encodeRecord(fat), 'the largest legal record must fit its limit');
      assert.throws(() => encodeEvents(CLUSTER, 'a', Array.from({ length: 300 }, (_, i) => ({ kind: 'failed' as const, peer: `peer-${i}-${'z'.repeat(60)}`, incarnation: 1, confirmations: 0 }))), /GOSSIP_TOO_LARGE|exceeds/);
    });

    it('checksum mismatch', () => {
      const bytes = encodeRecord(r).bytes.slice();
      bytes[10] = bytes[10]! ^ 0x01;
      expectRefusal(() => decodeTopicMessage(topicA, bytes), 'GOSSIP_CHECKSUM', 'reject');
    });

    it('bad version: an unknown old one is rejected, a newer one ignored (rolling upgrade)', () => {
      const t = unseal(encodeRecord(r).bytes);
      expectRefusal(() => decodeTopicMessage(topicA, seal([0, ...t.slice(1)])), 'GOSSIP_BAD_VERSION', 'reject');
      expectRefusal(() => decodeTopicMessage(topicA, seal(['1', ...t.slice(1)])), 'GOSSIP_BAD_VERSION', 'reject');
      expectRefusal(() => decodeTopicMessage(topicA, seal([2, ...t.slice(1)])), 'GOSSIP_BAD_VERSION', 'ignore');
    });

    it('a message type that does not belong on the topic', () => {
      expectRefusal(() => decodeTopicMessage(globalTopic(CLUSTER), encodeRecord(r).bytes), 'GOSSIP_WRONG_TOPIC', 'reject');
      expectRefusal(() => decodeTopicMessage(topicA, encodePing(1).bytes), 'GOSSIP_WRONG_TOPIC', 'reject');
      expectRefusal(() => decodeTopicMessage(topicA, seal([1, 99, 'x'])), 'GOSSIP_BAD_TYPE', 'reject');
      expectRefusal(() => decodeDirect(encodeRecord(r).bytes), 'GOSSIP_WRONG_TOPIC', 'reject');
    });

    it('schema: wrong types, wrong arity, maps instead of tuples', () => {
      const t = unseal(encodeRecord(r).bytes);
      const withField = (i: number, v: unknown): Uint8Array => {
        const c = t.slice();
        c[i] = v;
        return seal(c);
      };
      expectRefusal(() => decodeTopicMessage(topicA, withField(3, 'three')), 'GOSSIP_SCHEMA', 'reject'); // incarnation
      expectRefusal(() => decodeTopicMessage(topicA, withField(3, 1.5)), 'GOSSIP_SCHEMA', 'reject');
      expectRefusal(() => decodeTopicMessage(topicA, withField(7, { energy: 'hydro' })), 'GOSSIP_SCHEMA', 'reject'); // labels as a map
      expectRefusal(() => decodeTopicMessage(topicA, withField(7, ['bad key!', 'v'])), 'GOSSIP_SCHEMA', 'reject');
      expectRefusal(() => decodeTopicMessage(topicA, seal(t.slice(0, -1))), 'GOSSIP_SCHEMA', 'reject');
      expectRefusal(() => decodeTopicMessage(topicA, seal({ v: 1 })), 'GOSSIP_SCHEMA', 'reject');
      expectRefusal(() => decodeTopicMessage(topicA, new Uint8Array([1, 2, 3])), 'GOSSIP_SCHEMA', 'reject');
    });

    it('bounds and cross-field invariants', () => {
      const t = unseal(encodeRecord(r).bytes);
      const withField = (i: number, v: unknown): Uint8Array => {
        const c = t.slice();
        c[i] = v;
        return seal(c);
      };
      expectRefusal(() => decodeTopicMessage(topicA, withField(10, [128, 262144, 2000])), 'GOSSIP_BOUNDS', 'reject'); // free > capacity
      expectRefusal(() => decodeTopicMessage(topicA, withField(3, 2 ** 50)), 'GOSSIP_BOUNDS', 'reject'); // absurd incarnation
      expectRefusal(() => decodeTopicMessage(topicA, withField(12, -1)), 'GOSSIP_BOUNDS', 'reject'); // jobs
      const s = unseal(encodeSummary(summary('peerA', 2, 1000, ['peerA', 'b', 'c'])).bytes);
      const buckets = s[8] as unknown[][];
      const bad = buckets.map((b) => b.slice());
      bad[0]![3] = [1, 2, 0, 0, 0, 0]; // fits must not increase with the shape
      const sd = s.slice();
      sd[8] = bad;
      expectRefusal(() => decodeTopicMessage(districtTopicOf('peerA', 2), seal(sd)), 'GOSSIP_BOUNDS', 'reject');
      const shortFilter = buckets.map((b) => b.slice());
      shortFilter[0]![7] = new Uint8Array(31); // a label filter is empty or 32 bytes
      sd[8] = shortFilter;
      expectRefusal(() => decodeTopicMessage(districtTopicOf('peerA', 2), seal(sd)), 'GOSSIP_BOUNDS', 'reject');
      shortFilter[0]![7] = ['rack=r1']; // the list of labels it replaced
      expectRefusal(() => decodeTopicMessage(districtTopicOf('peerA', 2), seal(sd)), 'GOSSIP_SCHEMA', 'reject');
    });

    it('wrong cell, wrong cluster, a leave announced by someone else', () => {
      const outsider = peerOutside(hashPrefix('peerA', 2), 2);
      expectRefusal(() => decodeTopicMessage(topicA, encodeRecord(record(outsider)).bytes), 'GOSSIP_WRONG_CELL', 'reject');
      expectRefusal(() => decodeTopicMessage(topicA.replace('/test/', '/other/'), encodeRecord(r).bytes), 'GOSSIP_WRONG_CLUSTER', 'reject');
      const leave = encodeEvents(CLUSTER, outsider, [{ kind: 'left', peer: 'peerA', incarnation: 1, confirmations: 0 }]);
      expectRefusal(() => decodeTopicMessage(topicA, leave.bytes), 'GOSSIP_ORIGIN_MISMATCH', 'reject');
      // A summary whose reporter is not in the cell it describes.
      const s = unseal(encodeSummary(summary('peerA', 2, 1000)).bytes);
      s[5] = outsider;
      expectRefusal(() => decodeTopicMessage(districtTopicOf('peerA', 2), seal(s)), 'GOSSIP_WRONG_CELL', 'reject');
      expectRefusal(() => decodeTopicMessage('not/a/shoal/topic', encodeRecord(r).bytes), 'GOSSIP_UNKNOWN_TOPIC', 'ignore');
    });
  });

  it('decoding cost (measured, printed; the simulator decodes each distinct message once)', () => {
    const rec = encodeRecord(r).bytes;
    const dig = encodeDigest({
      cluster: CLUSTER,
      reporter: 'peerA',
      cellBits: 0,
      districtBits: 0,
      district: 0,
      issuedAtMs: 1,
      full: true,
      summaries: Array.from({ length: 64 }, (_, i) => summary(`rep${i}`, 0, i, [`rep${i}`, 'a', 'b', 'c', 'd', 'e'])),
      versions: [],
    }).bytes;
    const time = (fn: () => unknown, n: number): number => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn();
      return Number(process.hrtime.bigint() - t0) / 1000 / n;
    };
    const recUs = time(() => decodeTopicMessage(topicA, rec), 20000);
    const digUs = time(() => decodeTopicMessage(globalTopic(CLUSTER), dig), 500);
    console.log(`      record: ${rec.length} B, ${recUs.toFixed(2)} µs/decode; digest of 64 summaries: ${dig.length} B, ${digUs.toFixed(1)} µs/decode`);
    assert.ok(recUs < 200, `decoding a record took ${recUs} µs; expected well under 200 µs`);
  });
});
