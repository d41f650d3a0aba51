import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LocalHealth, lagScore } from '../../../src/agent/local-health.ts';
import { EVENT_LOOP_SAMPLE_MS } from '../../../src/metrics/registry.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { ManualClock } from '../net/fakes.ts';

/** A scripted lag histogram: each window's p99 in ms of lag (the sampling interval is added, as Node's histogram holds it). */
function scriptedLag(windowsMs: number[]) {
  const calls = { resets: 0, enabled: false };
  return {
    calls,
    lag: {
      percentile: (p: number) => {
        assert.equal(p, 99);
        return ((windowsMs[calls.resets] ?? 0) + EVENT_LOOP_SAMPLE_MS) * 1e6;
      },
      reset: () => void calls.resets++,
      enable: () => ((calls.enabled = true), true),
      disable: () => ((calls.enabled = false), true),
    },
  };
}

describe('LocalHealth (event-loop lag → Lifeguard awareness)', () => {
  it('lagScore counts whole units of lag and clamps to the maximum', () => {
    assert.equal(lagScore(0, 125, 8), 0);
    assert.equal(lagScore(124.9, 125, 8), 0);
    assert.equal(lagScore(125, 125, 8), 1);
    assert.equal(lagScore(730, 125, 8), 5);
    assert.equal(lagScore(60_000, 125, 8), 8);
    assert.equal(lagScore(Number.NaN, 125, 8), 0);
    assert.equal(lagScore(-5, 125, 8), 0);
  });

  it('reports each window’s score, then starts a fresh window, and falls back to 0 when the lag is gone', () => {
    const clock = new ManualClock();
    const { lag, calls } = scriptedLag([0, 300, 730, 5]);
    const reported: number[] = [];
    const health = new LocalHealth({ unitMs: 125, maxScore: 8, intervalMs: 2000 }, { clock, report: (s) => reported.push(s), lag });
    health.start();
    assert.equal(calls.enabled, true);
    clock.advance(1999);
    assert.deepEqual(reported, [], 'nothing before the first window ends');
    clock.advance(1);
    clock.advance(2000);
    clock.advance(2000);
    clock.advance(2000);
    assert.deepEqual(reported, [0, 2, 5, 0]);
    assert.equal(calls.resets, 4, 'every report starts a new window');
    assert.equal(health.score, 0);
    health.stop();
    assert.equal(clock.pending, 0, 'stop cancels the sampling timer');
    assert.equal(calls.enabled, false);
  });

  it('sees a real blocked event loop (Node’s own lag histogram)', async () => {
    const clock = new ManualClock();
    const reported: number[] = [];
    const lag = monitorEventLoopDelay({ resolution: EVENT_LOOP_SAMPLE_MS });
    const health = new LocalHealth({ unitMs: 100, maxScore: 8, intervalMs: 2000 }, { clock, report: (s) => reported.push(s), lag });
    health.start();
    try {
      await waitFor(() => lag.count > 0, { timeoutMs: 2000, what: 'the monitor’s first tick (its baseline)' });
      // Hold the loop for 500 ms, as a CPU-starved agent would, then wait for the monitor's late tick.
      const blockMs = 500;
      const until = Date.now() + blockMs;
      while (Date.now() < until);
      await waitFor(() => lag.max > (blockMs - 100) * 1e6, { timeoutMs: 2000, what: 'the monitor to record the blocked loop' });
      const score = health.sample();
      // The reading is up to one sampling interval short (a tick due just as the block began),
      // and Date.now() may end the block a fraction of a millisecond early: at least 3 units of
      // 100 ms. At most 4 on an idle machine; a loaded one adds its own scheduling delay.
      const least = Math.floor((blockMs - EVENT_LOOP_SAMPLE_MS - 1) / 100);
      assert.ok(score >= least && score <= 7, `score ${score} for a ${blockMs}-ms block in 100-ms units (sampled every ${EVENT_LOOP_SAMPLE_MS} ms), expected ${least}–7`);
      assert.deepEqual(reported, [score]);
    } finally {
      health.stop();
    }
  });
});
