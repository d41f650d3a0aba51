import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TenantKeyMap } from '../../../src/placement/tenant-key-map.ts';

/** fast-check seed: FC_SEED from the environment to replay a failure, else a fresh one. */
const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() % 0x7fffffff;

type Op = { op: 'set'; tenant: string; key: string; value: number } | { op: 'delete'; tenant: string; key: string };

// Few distinct names, with the separator a joined key would use, so operations collide often.
const name = fc.constantFrom('', 'a', 'b', 'a\u0000b', '\u0000b', 'b\u0000');
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), tenant: name, key: name, value: fc.integer() }),
  fc.record({ op: fc.constant('delete' as const), tenant: name, key: name }),
);

describe(`TenantKeyMap (seed ${SEED}; FC_SEED=… to replay)`, () => {
  it('behaves as a map keyed by the (tenant, key) pair, even where a joined string would collide', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const m = new TenantKeyMap<number>();
        const model = new Map<string, number>();
        for (const o of ops) {
          const id = JSON.stringify([o.tenant, o.key]);
          if (o.op === 'set') {
            m.set(o.tenant, o.key, o.value);
            model.set(id, o.value);
          } else {
            assert.equal(m.delete(o.tenant, o.key), model.delete(id));
          }
          assert.equal(m.size, model.size);
        }
        for (const t of ['', 'a', 'b', 'a\u0000b', '\u0000b', 'b\u0000']) {
          for (const k of ['', 'a', 'b', 'a\u0000b', '\u0000b', 'b\u0000']) {
            const id = JSON.stringify([t, k]);
            assert.equal(m.get(t, k), model.get(id));
            assert.equal(m.has(t, k), model.has(id));
          }
        }
        assert.deepEqual([...m.values()].sort(), [...model.values()].sort());
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
