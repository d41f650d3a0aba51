import assert from 'node:assert/strict';
import { burstFailure, burstRoute, isDefinitiveRefusal } from '../../../src/federation/index.ts';
import { spec } from './fixtures.ts';

const LOCAL = { cluster: 'a', region: 'eu' };
const ctx = { self: 'a', named: undefined, region: undefined, federated: ['b', 'c'] };

describe('federation: where a job goes', () => {
  it('routes by the spec: local, local then burst, or straight to the federation', () => {
    assert.equal(burstRoute(spec(), LOCAL, true), 'local-then-burst');
    assert.equal(burstRoute(spec(), LOCAL, false), 'local', 'bursting disabled');
    assert.equal(burstRoute(spec({ constraints: { cluster: 'b' } }), LOCAL, false), 'remote', 'naming another cluster forwards even without bursting');
    assert.equal(burstRoute(spec({ constraints: { cluster: 'a' } }), LOCAL, true), 'local', 'naming this cluster never leaves it');
    assert.equal(burstRoute(spec({ constraints: { region: 'us' } }), LOCAL, true), 'remote');
    assert.equal(burstRoute(spec({ constraints: { region: 'eu' } }), LOCAL, true), 'local-then-burst');
  });

  it('a refusal by policy alone keeps its code and exact message', () => {
    const f = burstFailure([{ cluster: 'b', code: 'FEDERATION_DENIED', message: 'cluster b does not accept tenant acme from cluster a' }], { ...ctx, named: 'b' });
    assert.deepEqual(f, { code: 'FEDERATION_DENIED', message: 'cluster b does not accept tenant acme from cluster a' });
    const q = burstFailure([{ cluster: 'b', code: 'FEDERATION_QUOTA_EXCEEDED', message: 'q' }], ctx);
    assert.equal(q.code, 'FEDERATION_QUOTA_EXCEEDED');
    const mixed = burstFailure([{ cluster: 'b', code: 'FEDERATION_QUOTA_EXCEEDED', message: 'q' }, { cluster: 'c', code: 'FEDERATION_DENIED', message: 'd' }], ctx);
    assert.equal(mixed.code, 'FEDERATION_DENIED');
  });

  it('any capacity refusal makes it JOB_UNPLACEABLE, with every cluster\'s reason', () => {
    const f = burstFailure(
      [
        { cluster: 'b', code: 'FEDERATION_DENIED', message: 'cluster b does not accept tenant acme from cluster a' },
        { cluster: 'c', code: 'JOB_UNPLACEABLE', message: 'cluster c: no host with 12 vCPUs free' },
      ],
      ctx,
    );
    assert.equal(f.code, 'JOB_UNPLACEABLE');
    assert.equal(f.message, 'cluster b does not accept tenant acme from cluster a; cluster c: no host with 12 vCPUs free');
  });

  it('names an unknown cluster, an empty region and an empty federation precisely', () => {
    assert.deepEqual(burstFailure([], { ...ctx, named: 'zz' }), { code: 'FEDERATION_UNKNOWN_CLUSTER', message: 'cluster zz is not federated with cluster a (federated: b, c)' });
    assert.deepEqual(burstFailure([], { ...ctx, region: 'mars' }), { code: 'JOB_UNPLACEABLE', message: 'no federated cluster in region mars' });
    assert.equal(burstFailure([{ cluster: 'b', code: 'FEDERATION_UNAVAILABLE', message: 'no summary from cluster b yet' }], ctx).code, 'FEDERATION_UNAVAILABLE');
  });

  it('only refusals after which nothing exists let a burst try another cluster', () => {
    for (const code of ['JOB_UNPLACEABLE', 'FEDERATION_DENIED', 'FEDERATION_QUOTA_EXCEEDED', 'JOB_INVALID_SPEC']) assert.equal(isDefinitiveRefusal(code), true, code);
    for (const code of ['PLACEMENT_TIMEOUT', 'JOB_PLACEMENT_FAILED', 'FEDERATION_UNAVAILABLE', 'JOB_IDEMPOTENCY_CONFLICT', 'INTERNAL']) assert.equal(isDefinitiveRefusal(code), false, code);
  });
});
