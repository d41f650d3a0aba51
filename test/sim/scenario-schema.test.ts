import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ShoalError } from '../../src/core/index.ts';
import { defaultGossipOptions } from '../../src/gossip/index.ts';
import { evaluateAssertions } from '../../simulations/scenario/assertions.ts';
import { loadScenarioFile, parseScenario } from '../../simulations/scenario/load.ts';
import { overrideOptions, partialOverrides } from '../../simulations/scenario/options-override.ts';
import { expandGrid, parseSweepArg } from '../../simulations/sweep/grid.ts';
import { worldOptionsFor } from '../../simulations/run/run-scenario.ts';

function expectCode(fn: () => unknown, code: string, what: string, msgPart?: string): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ShoalError, `${what}: expected ShoalError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, `${what}: expected ${code}, got ${err.code}: ${err.message}`);
    if (msgPart !== undefined) assert.ok(err.message.includes(msgPart), `${what}: message must mention "${msgPart}": ${err.message}`);
    return;
  }
  assert.fail(`${what}: expected ${code}, nothing was thrown`);
}

describe('sim scenarios: files, schema, overrides, assertions, sweeps', () => {
  const dir = fileURLToPath(new URL('../../simulations/scenarios/', import.meta.url));

  it('every shipped scenario file parses, and its option tables name real options', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.toml'));
    assert.ok(files.length >= 9, `expected the nine scenario files, found ${files.join(', ')}`);
    for (const f of files) {
      const s = loadScenarioFile(`${dir}${f}`);
      assert.ok(s.assert.length > 0, `${f} must hold its own assertions`);
      assert.doesNotThrow(() => worldOptionsFor(s, s.nodes), `${f}: topology/network/gossipsub tables must override real options`);
      assert.doesNotThrow(() => partialOverrides(defaultGossipOptions, s.gossip, 'gossip'), `${f}: gossip table must name real options`);
    }
  });

  it('rejects unknown keys with the path, and bad TOML precisely', () => {
    expectCode(() => parseScenario('name = "x"\nnodez = 10\n'), 'SIM_SCENARIO_INVALID', 'misspelt top-level key', 'nodez');
    expectCode(() => parseScenario('name = "x"\n[start]\nmode = "tepid"\n'), 'SIM_SCENARIO_INVALID', 'bad enum', 'start.mode');
    expectCode(() => parseScenario('name = "x"\n[[events]]\nat_s = 3\naction = "explode"\n'), 'SIM_SCENARIO_INVALID', 'unknown event action', 'events');
    expectCode(() => parseScenario('name = "x"\n[[events]]\nat_s = 3\naction = "crash-fraction"\nfraction = 2\n'), 'SIM_SCENARIO_INVALID', 'fraction above 1', 'fraction');
    expectCode(() => parseScenario('name = = "x"'), 'SIM_SCENARIO_INVALID', 'broken TOML', 'not valid TOML');
    expectCode(() => loadScenarioFile('/nonexistent/x.toml'), 'SIM_SCENARIO_UNREADABLE', 'missing file');
  });

  it('option tables accept snake_case names of real options only, with the right types', () => {
    const o = overrideOptions({ probeIntervalMs: 1000, cellBits: null as number | null, budget: { msgsPerSec: 1 } }, { probe_interval_ms: 500, cell_bits: 4, budget: { msgs_per_sec: 2 } }, 'gossip');
    assert.deepEqual(o, { probeIntervalMs: 500, cellBits: 4, budget: { msgsPerSec: 2 } }, 'snake_case keys map onto camelCase options, nested tables too');
    expectCode(() => overrideOptions({ probeIntervalMs: 1000 }, { probe_intervl_ms: 5 }, 'gossip'), 'SIM_SCENARIO_INVALID', 'misspelt option', 'probe_intervl_ms');
    expectCode(() => overrideOptions({ probeIntervalMs: 1000 }, { probe_interval_ms: 'fast' }, 'gossip'), 'SIM_SCENARIO_INVALID', 'wrong type', 'must be a number');
  });

  it('evaluates assertions, and fails a metric the run did not produce', () => {
    const r = evaluateAssertions(
      [
        { metric: 'a', op: '<=', value: 2 },
        { metric: 'b', op: '==', value: 0 },
        { metric: 'missing', op: '>=', value: 0 },
      ],
      { a: 2, b: 1, missing: null },
    );
    assert.deepEqual(r.map((x) => x.pass), [true, false, false], 'a <= 2 passes at 2; b == 0 fails at 1; an unmeasured metric fails');
  });

  it('parses sweeps and expands the grid into validated scenarios', () => {
    const a = parseSweepArg('gossip.target_cell_size=32,48');
    const b = parseSweepArg('nodes=100,200');
    assert.deepEqual(a, { key: 'gossip.target_cell_size', values: [32, 48] }, 'numbers parse as numbers');
    const base = parseScenario('name = "x"\nnodes = 50\n');
    const grid = expandGrid(base, [a, b]);
    assert.equal(grid.length, 4, 'the grid is the product of the axes');
    assert.deepEqual(grid.map((g) => [g.scenario.gossip['target_cell_size'], g.scenario.nodes]), [[32, 100], [32, 200], [48, 100], [48, 200]], 'each point sets its values');
    expectCode(() => parseSweepArg('nodes'), 'SIM_BAD_SWEEP', 'no values', 'key=v1');
    expectCode(() => expandGrid(base, [parseSweepArg('start.mood=1,2')]), 'SIM_SCENARIO_INVALID', 'unknown sweep key', 'start');
  });
});
