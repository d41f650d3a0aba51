import assert from 'node:assert/strict';
import { defaultBenchOptions, validateBenchOptions, type BenchOptions } from '../../../bench/options.ts';
import { benchCommand, errorCell, targetCell, verdict } from '../../../bench/report.ts';
import { calibrationScenarios } from '../../../bench/sim-calibration.ts';
import { validateScenario } from '../../../simulations/index.ts';

describe('bench report cells', () => {
  it('says "Shoal worse" whenever Shoal costs more than Serf by over 5%', () => {
    assert.match(verdict(2, 1).verdict, /Shoal worse/, 'twice the cost is worse');
    assert.equal(verdict(2, 1).ratio, '2.00×', 'ratio with two decimals');
    assert.match(verdict(1.06, 1).verdict, /Shoal worse/, '6% more is worse');
    assert.equal(verdict(1.04, 1).verdict, 'about the same', '4% more is within noise');
    assert.equal(verdict(0.5, 1).verdict, 'Shoal better', 'half the cost is better');
    assert.equal(verdict(null, 1).verdict, '—', 'a missing figure has no verdict');
    assert.equal(verdict(0, 0).verdict, 'same', 'both zero');
  });

  it('marks a target met or NOT met, and says when the figure is missing', () => {
    const t = { text: '≤ 1% of a core', met: (v: number) => v <= 1 };
    assert.equal(targetCell(0.5, t), '≤ 1% of a core: met', 'under the target');
    assert.equal(targetCell(2, t), '≤ 1% of a core: **NOT met**', 'over the target');
    assert.equal(targetCell(null, t), '≤ 1% of a core: not measured', 'no figure');
    assert.equal(targetCell(2, undefined), '', 'no target for this row');
  });

  it('prints the relative error of the simulation with its sign', () => {
    assert.equal(errorCell(1.2, 1), '+20.0%', 'overestimate');
    assert.equal(errorCell(0.5, 1), '-50.0%', 'underestimate');
    assert.equal(errorCell(3, 1), '+200%', 'large errors without decimals');
    assert.equal(errorCell(1, null), '—', 'no real figure');
  });

  it('reproduces a run by naming --agents and every option that differs from the defaults', () => {
    const o: BenchOptions = { ...defaultBenchOptions, agents: 8, idleWindowS: 10, joinMode: 'flag', overlayCalibration: false };
    assert.equal(benchCommand(o, defaultBenchOptions), 'npm run bench -- --agents 8 --idle-window-s 10 --join-mode flag --no-overlay-calibration', 'changed options only, booleans as --no-x');
    assert.equal(benchCommand(defaultBenchOptions, defaultBenchOptions, ['sim']), 'npm run bench -- --agents 32 --only sim', 'a subset of sides');
  });
});

describe('bench options', () => {
  it('accepts the defaults', () => {
    assert.doesNotThrow(() => validateBenchOptions(defaultBenchOptions), 'defaults must be valid');
  });

  it('refuses more placement agents than agents, unknown sides and a down time longer than the churn window', () => {
    assert.throws(() => validateBenchOptions({ ...defaultBenchOptions, agents: 10, placementAgents: 20 }), (e: Error & { code?: string }) => e.code === 'BENCH_BAD_OPTIONS' && /--placement-agents/.test(e.message), 'placement agents > agents');
    assert.throws(() => validateBenchOptions({ ...defaultBenchOptions, only: ['consul' as never] }), /unknown side "consul"/, 'unknown side');
    assert.throws(() => validateBenchOptions({ ...defaultBenchOptions, churnDownS: 60, churnWindowS: 60 }), /--churn-down-s/, 'down time must fit the window');
    assert.throws(() => validateBenchOptions({ ...defaultBenchOptions, joinMode: 'gossip' as never }), /--join-mode/, 'unknown join mode');
  });
});

describe('bench calibration scenarios', () => {
  const o = {
    nodes: 32, seed: 1, seeds: 3, gossipProfile: 'lan' as const, idleWindowS: 60, churnWindowS: 60, churnIntervalS: 5, churnDownS: 5,
    warmupS: 40, runTimeoutMs: 1000, overlay: false, scenarioDir: '/nonexistent', outDir: '/nonexistent',
  };

  it('are valid simulator scenarios with the testbed\'s N, profile, windows and churn', () => {
    const sc = calibrationScenarios(o);
    for (const [name, raw] of Object.entries({ formation: sc.formation, idleCrash: sc.idleCrash, churn: sc.churn })) {
      const s = validateScenario(raw, name);
      assert.equal(s.nodes, 32, `${name}: same N as the testbed`);
      assert.equal(s.gossip_profile, 'lan', `${name}: same gossip profile as the agents`);
    }
    const idle = validateScenario(sc.idleCrash);
    assert.deepEqual(idle.metrics.steady_window_s, [40, 100], 'idle window after the warm-up, as long as the real one');
    assert.deepEqual(idle.events, [{ at_s: 100, action: 'crash-fraction', fraction: 1 / 32, by: 'random' }], 'exactly one host crashes, after the idle window');
    const churn = validateScenario(sc.churn).events[0];
    assert.ok(churn && churn.action === 'churn', 'the churn scenario has a churn event');
    assert.equal(churn.rate_per_s, 0.2, 'one crash per 5 s');
    assert.equal(churn.down_s, 5, 'down as long as the real restarts wait');
    assert.equal(churn.duration_s, 55, 'crashes stop when the last restart would fall outside the window, as in the testbed');
  });
});

describe('bench README block', () => {
  it('replaces only what sits between the markers, and leaves a README without them alone', async () => {
    const { replaceReadmeBlock, README_START, README_END } = await import('../../../bench/report.ts');
    const readme = `# Shoal\n\nintro\n\n${README_START}\nold table\n${README_END}\n\n## Next\n`;
    const block = `${README_START}\nnew table\n${README_END}`;
    assert.equal(replaceReadmeBlock(readme, block), `# Shoal\n\nintro\n\n${block}\n\n## Next\n`, 'the old table is replaced, the rest kept');
    assert.equal(replaceReadmeBlock('# Shoal\n', block), null, 'no markers: no change');
    assert.equal(replaceReadmeBlock(`${README_END}\n${README_START}`, block), null, 'markers in the wrong order: no change');
  });
});
