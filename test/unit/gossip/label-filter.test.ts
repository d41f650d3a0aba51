import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LABEL_FILTER_BYTES, NO_LABELS, hostLabelFilter, labelFilterOf, labelProbe, mayHaveLabel, mergeLabelFilter } from '../../../src/gossip/label-filter.ts';
import { FC_SEED, fcParams } from '../placement/fixtures.ts';

const pair = fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z0-9-]{1,12}$/)).map(([k, v]) => `${k}=${v}`);

describe('label filter', () => {
  it(`never says no to a label it holds, and merging is the filter of the union (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 80 }), fc.array(pair, { maxLength: 80 }), (a, b) => {
        const fa = labelFilterOf(a);
        for (const l of a) assert.ok(mayHaveLabel(fa, labelProbe(l)), `lost ${l}`);
        const merged = mergeLabelFilter(mergeLabelFilter(NO_LABELS, fa), labelFilterOf(b));
        assert.deepEqual(merged, labelFilterOf([...a, ...b]));
        assert.ok(merged.length === 0 || merged.length === LABEL_FILTER_BYTES);
      }),
      fcParams(200),
    );
  });

  it('no labels is the empty filter, which holds nothing', () => {
    assert.equal(labelFilterOf([]), NO_LABELS);
    assert.equal(hostLabelFilter({}), NO_LABELS);
    assert.equal(mayHaveLabel(NO_LABELS, labelProbe('rack=rk1')), false);
  });

  it('a merge does not write into the filters it reads (host filters are shared)', () => {
    const host = hostLabelFilter({ rack: 'rk1' });
    const before = new Uint8Array(host);
    const acc = mergeLabelFilter(NO_LABELS, host);
    mergeLabelFilter(acc, hostLabelFilter({ rack: 'rk2' }));
    assert.deepEqual(host, before);
    assert.equal(hostLabelFilter({ rack: 'rk1' }).length, LABEL_FILTER_BYTES);
  });

  // The rates the module's comment promises, over the rack labels the simulator uses.
  for (const [held, atMost] of [
    [13, 0.005],
    [40, 0.08],
  ] as const) {
    it(`false positives at ${held} labels stay under ${atMost * 100}% (printed)`, () => {
      const f = labelFilterOf(Array.from({ length: held }, (_, i) => `rack=rk${i}`));
      let yes = 0;
      const tries = 20_000;
      for (let i = held; i < held + tries; i++) if (mayHaveLabel(f, labelProbe(`rack=rk${i}`))) yes++;
      console.log(`      ${held} labels: ${((100 * yes) / tries).toFixed(2)}% false positives over ${tries} absent labels`);
      assert.ok(yes / tries <= atMost, `${yes} of ${tries}`);
    });
  }
});
