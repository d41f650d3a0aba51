import assert from 'node:assert/strict';
import { RemoteDirectory } from '../../../src/federation/index.ts';
import { bucket, clusterSummary } from './fixtures.ts';

describe('federation: remote directory', () => {
  const allow = { a: ['ga1'], b: ['gb1', 'gb2'], c: ['gc1'] };

  it('maps allowlisted identities to their cluster and leaves this cluster out', () => {
    const d = new RemoteDirectory('a', allow);
    assert.deepEqual(d.clusters, ['b', 'c']);
    assert.equal(d.clusterOf('gb2'), 'b');
    assert.equal(d.clusterOf('stranger'), undefined);
    assert.deepEqual(d.allGateways(), ['gb1', 'gb2', 'gc1']);
  });

  it('believes a summary only from a gateway of the cluster it describes', () => {
    const d = new RemoteDirectory('a', allow);
    assert.equal(d.onSummary('stranger', clusterSummary('b', []), true, 10), 'unlisted');
    assert.equal(d.onSummary('gc1', clusterSummary('b', []), true, 10), 'wrong-cluster', 'c cannot speak for b');
    assert.equal(d.states().size, 0);
    assert.equal(d.onSummary('gb1', clusterSummary('b', [bucket({ hosts: 2, free: { vcpus: 1, memoryMiB: 1 } })]), true, 10), 'new');
    assert.equal(d.states().get('b')?.summary.hosts, 2);
  });

  it('per gateway the newest wins; across gateways the latest received (clocks differ)', () => {
    const d = new RemoteDirectory('a', allow);
    d.onSummary('gb1', clusterSummary('b', [], { issuedAtMs: 5_000 }), true, 100);
    assert.equal(d.onSummary('gb1', clusterSummary('b', [], { issuedAtMs: 4_000 }), true, 200), 'stale', 'a reordered older summary is ignored');
    // gb2's clock is far behind: its summary is still believed when it arrives later.
    assert.equal(d.onSummary('gb2', clusterSummary('b', [], { issuedAtMs: 10 }), false, 300), 'new');
    assert.equal(d.states().get('b')?.receivedAtMs, 300);
    assert.equal(d.states().get('b')?.acceptsUs, false);
  });
});
