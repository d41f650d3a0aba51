import assert from 'node:assert/strict';
import { buildDigests, fitBodies } from '../../../src/gossip/digest-builder.ts';
import { MAX_VERSIONS_PER_DIGEST, summaryBodyBytes } from '../../../src/gossip/codec.ts';
import { decodeTopicMessage, globalTopic, type DigestMsg, type SummaryVersion } from '../../../src/gossip/index.ts';
import { CLUSTER, summary } from './fixtures.ts';

describe('gossip digest builder', () => {
  const header = { cluster: CLUSTER, reporter: 'peer-r', cellBits: 12, districtBits: 0, district: 0, full: true };

  it('splits versions over digests at MAX_VERSIONS_PER_DIGEST, and every part decodes', () => {
    const versions: SummaryVersion[] = Array.from({ length: 2500 }, (_, i) => ({ cellBits: 12, cell: i, issuedAtMs: 10_000 + i, contentHash: i }));
    const bodies = Array.from({ length: 3 }, (_, i) => summary(`rep${i}`, 12, 9_000 + i));
    const digests = buildDigests(header, bodies, versions, 20_000);
    const decoded = digests.map((d) => decodeTopicMessage(globalTopic(CLUSTER), d.bytes).msg as DigestMsg);
    assert.equal(digests.length, Math.ceil(2500 / MAX_VERSIONS_PER_DIGEST), 'the bodies ride with the first versions');
    for (const d of decoded) assert.ok(d.versions.length <= MAX_VERSIONS_PER_DIGEST);
    assert.deepEqual(decoded.flatMap((d) => d.versions), versions, 'every version named once, in order');
    assert.equal(decoded.flatMap((d) => d.summaries).length, 3);
  });

  it('a digest with nothing but versions, and one with nothing at all', () => {
    assert.equal(buildDigests(header, [], [{ cellBits: 12, cell: 1, issuedAtMs: 5, contentHash: 7 }], 10).length, 1);
    const empty = buildDigests(header, [], [], 10);
    assert.equal(empty.length, 1);
    assert.equal(empty[0]!.msg.versions.length + empty[0]!.msg.summaries.length, 0);
  });

  it('fitBodies: within the room, cells never carried whole first, then the oldest; at least one', () => {
    const bodies = [summary('a', 12, 5_000), summary('b', 12, 1_000), summary('c', 12, 3_000), summary('d', 12, 4_000)];
    const one = summaryBodyBytes(bodies[0]!);
    const room = 160 + 2 * 24 + 2 * one + one / 2; // overhead, two versions, two and a half bodies
    const { carried, held } = fitBodies(bodies, 2, room, (s) => s.reporter === 'd');
    assert.deepEqual(carried.map((s) => s.reporter), ['d', 'b'], 'the never-whole one, then the oldest');
    assert.deepEqual(held.map((s) => s.reporter), ['c', 'a']);
    assert.equal(fitBodies(bodies, 2, 0, () => false).carried.length, 1, 'one body even when none fits');
    const all = fitBodies(bodies, 0, 1e6, () => false);
    assert.equal(all.carried.length + all.held.length, 4);
    assert.equal(all.held.length, 0);
  });
});
