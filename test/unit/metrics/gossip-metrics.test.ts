import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createGossipMetrics } from '../../../src/metrics/gossip-metrics.ts';

describe('gossip metrics (prom-client)', () => {
  it('reads the oldest record age when scraped, not before', async () => {
    const registry = new Registry();
    let reads = 0;
    let age: number | undefined;
    createGossipMetrics(registry, () => {
      reads++;
      return age;
    });
    assert.equal(reads, 0, 'nothing is computed until a scrape');
    await registry.metrics(); // no node yet: undefined, nothing set
    age = 2500;
    assert.match(await registry.metrics(), /shoal_gossip_oldest_record_age_seconds 2\.5\n/);
    assert.equal(reads, 2, 'one read per scrape');
  });
});
