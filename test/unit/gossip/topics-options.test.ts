import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ShoalError } from '../../../src/core/errors.ts';
import {
  GOSSIP_PROFILES,
  cellTopic,
  defaultGossipOptions,
  districtOf,
  districtTopic,
  globalTopic,
  parseTopic,
  resolveGossipOptions,
  topicKind,
} from '../../../src/gossip/index.ts';
import { recordChanged, recordDiffers } from '../../../src/gossip/self-record.ts';
import { record } from './fixtures.ts';

describe('topics', () => {
  it('names carry cluster and cellBits and parse back', () => {
    assert.deepEqual(parseTopic(cellTopic('prod', 11, 2047)), { kind: 'cell', cluster: 'prod', cellBits: 11, id: 2047 });
    assert.deepEqual(parseTopic(districtTopic('prod', 11, 31)), { kind: 'district', cluster: 'prod', cellBits: 11, id: 31 });
    assert.deepEqual(parseTopic(globalTopic('prod')), { kind: 'global', cluster: 'prod', cellBits: -1, id: -1 });
    assert.equal(parseTopic('shoal/1/prod/b2/c4'), null, 'cell 4 does not exist at 2 bits');
    assert.equal(parseTopic('shoal/1/prod/b11/d32'), null, '32 districts at 11 bits: 0..31');
    assert.equal(parseTopic('/shoal/test/cell/0'), null);
    assert.notEqual(cellTopic('prod', 2, 1), cellTopic('prod', 3, 1), 'a change of cellBits is a change of topic');
  });

  it('topic kinds for metric labels', () => {
    assert.equal(topicKind(cellTopic('x', 3, 1)), 'cell');
    assert.equal(topicKind(districtTopic('x', 3, 0)), 'district');
    assert.equal(topicKind(globalTopic('x')), 'global');
    assert.equal(topicKind('anything/else'), 'other');
  });

  it('districts group 64 cells', () => {
    assert.equal(districtOf(2047, 11), 31);
    assert.equal(districtOf(63, 11), 0);
    assert.equal(districtOf(3, 2), 0, 'small clusters have a single district');
  });
});

describe('gossip options', () => {
  it('defaults and every profile validate', () => {
    for (const p of Object.keys(GOSSIP_PROFILES) as (keyof typeof GOSSIP_PROFILES)[]) assert.doesNotThrow(() => resolveGossipOptions({}, p), `profile ${p}`);
  });

  it('bad values get a precise error naming the field', () => {
    const bad = (over: object, field: string): void => {
      assert.throws(
        () => resolveGossipOptions(over),
        (err: unknown) => err instanceof ShoalError && err.code === 'GOSSIP_BAD_OPTIONS' && err.details.field === field,
        `expected GOSSIP_BAD_OPTIONS for ${field}`,
      );
    };
    bad({ cluster: 'Bad Name' }, 'cluster');
    bad({ cellSizeHysteresis: 0.2 }, 'cellSizeHysteresis');
    bad({ probeIntervalMs: 0 }, 'probeIntervalMs');
    bad({ suspicionMaxMs: 10, suspicionMinMs: 100 }, 'suspicionMaxMs');
    bad({ cellBits: 99 }, 'cellBits');
    bad({ summaryTtlMs: 60_000 }, 'summaryTtlMs');
    bad({ globalTopic: { msgsPerSec: 0, bytesPerSec: 1, burstMessages: 1 } }, 'globalTopic');
  });

  it('every default is commented (unit and reason)', () => {
    const src = readFileSync(new URL('../../../src/gossip/options.ts', import.meta.url), 'utf8');
    const body = src.slice(src.indexOf('export const defaultGossipOptions'), src.indexOf('});', src.indexOf('export const defaultGossipOptions')));
    const lines = body.split('\n');
    for (const key of Object.keys(defaultGossipOptions)) {
      const i = lines.findIndex((l) => l.trimStart().startsWith(`${key}:`));
      assert.ok(i > 0, `default ${key} not found`);
      const above = lines.slice(0, i).reverse().find((l) => l.trim() !== '');
      assert.ok(above?.trim().startsWith('//'), `default ${key} needs a comment line above it`);
    }
  });
});

describe('own record significance', () => {
  const base = record('me', { free: { vcpus: 20, memoryMiB: 100_000, diskGiB: 1000 } });
  it('5% of capacity, a shape boundary, or any identity fact is news; a job count alone is not', () => {
    assert.equal(recordChanged(base, { ...base, jobs: base.jobs + 1 }, 0.05), false);
    assert.equal(recordDiffers(base, { ...base, jobs: base.jobs + 1 }), true, 'but it is a difference for the heartbeat');
    assert.equal(recordChanged(base, { ...base, free: { ...base.free, vcpus: base.free.vcpus - 2 } }, 0.05), false, '20 → 18 of 64 vCPUs: 3%, and the 16-vCPU shape still fits');
    assert.equal(recordChanged(base, { ...base, free: { ...base.free, vcpus: base.free.vcpus - 4 } }, 0.05), true, '20 → 16 of 64: over 5%');
    const small = { ...base, free: { vcpus: 2, memoryMiB: 4096, diskGiB: 20 } };
    assert.equal(recordChanged(small, { ...small, free: { ...small.free, vcpus: 1 } }, 0.05), true, 'the 2-vCPU shape stops fitting');
    assert.equal(recordChanged(base, { ...base, draining: true }, 0.05), true);
    assert.equal(recordChanged(base, { ...base, labels: { energy: 'coal' } }, 0.05), true);
  });
});
