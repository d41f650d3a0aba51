import assert from 'node:assert/strict';
import { BurstAttempt, type RemoteClusterState, type Reply } from '../../../src/federation/index.ts';
import { bucket, clusterSummary, spec } from './fixtures.ts';

const big = bucket({ hosts: 4, free: { vcpus: 16, memoryMiB: 65536 } });
const ctx = { self: 'a', federated: ['b', 'c', 'd'], maxSummaryAgeMs: 30_000, weakClusterWeight: 0.5, maxClustersTried: 3, deadline: 10_000 };
const remotes = new Map<string, RemoteClusterState>(['b', 'c', 'd'].map((c) => [c, { summary: clusterSummary(c, [big]), receivedAtMs: 0, acceptsUs: true }]));
const job = { id: 'j1', host: 'h1', state: 'placed', desired: 'running', epoch: 1, spec: spec(), specDigest: '', driver: 'qemu', createdAtMs: 0, updatedAtMs: 0 } as const;

const refused = (code: string, message = code): Reply => ({ ok: false, code, message });

describe('federation: one burst on a gateway (sans I/O)', () => {
  it('asks the ranked clusters in order, moving on after definitive refusals only', () => {
    const b = new BurstAttempt(spec(), ctx, remotes, undefined);
    const first = b.nextCluster(0)!;
    assert.deepEqual(b.onReply(refused('JOB_UNPLACEABLE', `cluster ${first}: full`)), { type: 'refused' }, 'no capacity there: try the next');
    const second = b.nextCluster(1)!;
    assert.notEqual(second, first);
    assert.deepEqual(b.onReply(refused('FEDERATION_DENIED', `cluster ${second} does not accept tenant default from cluster a`)), { type: 'refused' });
    const third = b.nextCluster(2)!;
    const v = b.onReply({ ok: true, job, created: true });
    assert.equal(v.type, 'done');
    assert.ok(v.type === 'done' && v.reply.ok && v.reply.cluster === third, 'the answer names the cluster that placed the job');
    assert.deepEqual(b.tried, [first, second, third]);
  });

  it('stops at an answer that may have created the job, and says so', () => {
    const b = new BurstAttempt(spec(), ctx, remotes, undefined);
    const first = b.nextCluster(0)!;
    const v = b.onReply({ ok: false, code: 'FEDERATION_UNAVAILABLE', message: 'no gateway answered', details: { ambiguous: true } });
    assert.equal(v.type, 'done', 'a timeout after sending must not send the job to a second cluster');
    assert.ok(v.type === 'done' && !v.reply.ok && v.reply.details?.ambiguous === true && v.reply.message.startsWith(`cluster ${first}: `));
    const placementTimeout = new BurstAttempt(spec(), ctx, remotes, undefined);
    placementTimeout.nextCluster(0);
    assert.equal(placementTimeout.onReply(refused('PLACEMENT_TIMEOUT')).type, 'done');
  });

  it('unreachable gateways that never got the job count as a refusal', () => {
    const b = new BurstAttempt(spec(), ctx, remotes, undefined);
    b.nextCluster(0);
    assert.deepEqual(b.onReply({ ok: false, code: 'FEDERATION_UNAVAILABLE', message: 'refused', details: { ambiguous: false } }), { type: 'refused' });
    assert.ok(b.nextCluster(1) !== null, 'the next cluster is asked');
  });

  it('a conflict is final and not ambiguous', () => {
    const b = new BurstAttempt(spec(), ctx, remotes, undefined);
    b.nextCluster(0);
    const v = b.onReply(refused('JOB_IDEMPOTENCY_CONFLICT'));
    assert.ok(v.type === 'done' && !v.reply.ok && v.reply.code === 'JOB_IDEMPOTENCY_CONFLICT' && v.reply.details?.ambiguous === false);
  });

  it('a bound key goes to its cluster first, even one the ranking would not pick', () => {
    const stale = new Map(remotes);
    stale.set('d', { summary: clusterSummary('d', []), receivedAtMs: 0, acceptsUs: true });
    const b = new BurstAttempt(spec(), ctx, stale, 'd');
    assert.equal(b.nextCluster(0), 'd', 'the job may already exist in d');
    b.onReply(refused('JOB_UNPLACEABLE'));
    const next = b.nextCluster(1)!;
    assert.ok(next === 'b' || next === 'c', 'then the ranking, without d again');
  });

  it('respects maxClustersTried and the deadline, and explains a failure with every reason', () => {
    const b = new BurstAttempt(spec(), { ...ctx, maxClustersTried: 2 }, remotes, undefined);
    b.nextCluster(0);
    b.onReply(refused('JOB_UNPLACEABLE', 'cluster x: full'));
    b.nextCluster(0);
    b.onReply(refused('FEDERATION_DENIED', 'cluster y does not accept tenant default from cluster a'));
    assert.equal(b.nextCluster(0), null, 'two clusters asked: done');
    const f = b.failure();
    assert.equal(f.code, 'JOB_UNPLACEABLE');
    assert.equal(f.message, 'cluster x: full; cluster y does not accept tenant default from cluster a');
    const late = new BurstAttempt(spec(), ctx, remotes, undefined);
    assert.equal(late.nextCluster(10_000), null);
    assert.match(late.failure().message, /out of time after asking 0 cluster/);
  });

  it('a named cluster that refuses by policy keeps the policy code', () => {
    const b = new BurstAttempt(spec({ constraints: { cluster: 'b' } }), ctx, remotes, undefined);
    assert.equal(b.nextCluster(0), 'b');
    b.onReply(refused('FEDERATION_DENIED', 'cluster b does not accept tenant acme from cluster a'));
    assert.equal(b.nextCluster(0), null, 'only the named cluster is asked');
    assert.deepEqual(
      { code: b.failure().code, message: b.failure().message },
      { code: 'FEDERATION_DENIED', message: 'cluster b does not accept tenant acme from cluster a' },
    );
  });
});
