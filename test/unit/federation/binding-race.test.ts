import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clusterAfterCopies, settleSiblingBinding, siblingUnbindAnswer } from '../../../src/federation/index.ts';
import { FC_SEED, fcParams } from './fixtures.ts';

/**
 * Two gateways of one cluster bind one key at once, each to the cluster its own ranking chose,
 * and copy the binding to each other before the job crosses. Whatever order the copies arrive
 * in, both must send the job to one cluster.
 */
function race(a: string, b: string, aCopyFirst: boolean): [string, string] {
  const held = { A: a, B: b };
  const pending = { A: true, B: true };
  // Each copy is handled by the receiver, which answers; the answers reach the senders last.
  const deliver = (to: 'A' | 'B', incoming: string): string => (held[to] = settleSiblingBinding(held[to], pending[to], incoming));
  let answerToA: string;
  let answerToB: string;
  if (aCopyFirst) {
    answerToA = deliver('B', a);
    answerToB = deliver('A', b);
  } else {
    answerToB = deliver('A', b);
    answerToA = deliver('B', a);
  }
  pending.A = pending.B = false;
  return [clusterAfterCopies(held.A, [answerToA]), clusterAfterCopies(held.B, [answerToB])];
}

describe('federation: one key bound by two gateways at once (binding-race)', () => {
  it('a sibling copy against nothing, or the same cluster, is taken as is', () => {
    assert.equal(settleSiblingBinding(undefined, false, 'b'), 'b');
    assert.equal(settleSiblingBinding('b', true, 'b'), 'b');
  });

  it('a binding whose job already crossed stands against a copy naming another cluster', () => {
    assert.equal(settleSiblingBinding('c', false, 'b'), 'c');
    assert.equal(clusterAfterCopies('b', ['c']), 'c', 'the copying gateway then sends the job where it already went');
  });

  it('two pending bindings settle on one cluster, on both sides', () => {
    assert.equal(settleSiblingBinding('c', true, 'b'), 'b');
    assert.equal(settleSiblingBinding('b', true, 'c'), 'b');
  });

  it('answers without a cluster (older gateway, failed copy) leave the choice alone; several disagreeing siblings give the smallest', () => {
    assert.equal(clusterAfterCopies('b', [undefined, null]), 'b');
    assert.equal(clusterAfterCopies('d', ['c', 'b', 'd']), 'b');
  });

  it('a sibling still flying the key keeps its binding when the refused gateway unbinds; the next copy follows it', () => {
    assert.equal(siblingUnbindAnswer('c', true), 'c', 'a sibling in flight keeps its binding and says where');
    assert.equal(siblingUnbindAnswer('c', false), null, 'a copy of ours is simply forgotten');
    assert.equal(siblingUnbindAnswer(undefined, true), null);
    // The refused gateway then binds its next choice d: the sibling's crossed binding c stands, and the job follows it.
    assert.equal(clusterAfterCopies('d', [settleSiblingBinding('c', false, 'd')]), 'c');
  });

  it(`whatever the clusters and the order of the copies, both gateways send the key to one cluster (seed ${FC_SEED})`, () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,7}$/);
    fc.assert(
      fc.property(name, name, fc.boolean(), (a, b, order) => {
        const [ga, gb] = race(a, b, order);
        assert.equal(ga, gb, `gateway A sends to ${ga}, gateway B to ${gb}`);
        assert.ok(ga === a || ga === b, 'the cluster is one of the two choices');
      }),
      fcParams(500),
    );
  });
});
