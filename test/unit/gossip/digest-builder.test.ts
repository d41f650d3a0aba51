import assert from 'node:assert/strict';
import { buildDigests } from '../../../src/gossip/digest-builder.ts';
import { MAX_VERSIONS_PER_DIGEST } from '../../../src/gossip/codec.ts';
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
});
