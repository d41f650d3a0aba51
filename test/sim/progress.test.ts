import assert from 'node:assert/strict';
import { PLAIN_PROGRESS_MAX_GAP_MS, formatDuration, plainProgress } from '../../simulations/run/progress.ts';

describe('sim CLI: plain progress lines', () => {
  const run = (durationS: number, wallPerSimS: (s: number) => number): string[] => {
    const lines: string[] = [];
    const r = plainProgress(durationS, (l) => lines.push(l), () => '1.0');
    let wallMs = 0;
    for (let s = 1; s <= durationS; s++) {
      wallMs += wallPerSimS(s);
      r.update({ simMs: s * 1000, durationMs: durationS * 1000, wallMs, events: s * 100, liveHosts: 10 });
    }
    return lines;
  };

  it('prints every 10% of simulated time and the end, when a run is fast', () => {
    const lines = run(100, () => 10);
    assert.equal(lines.length, 10, lines.join('\n'));
    assert.match(lines[0]!, /^progress: 10\/100 s simulated, 0\.1 s wall, ~1 s left,/);
    assert.match(lines[9]!, /^progress: 100\/100 s simulated, 1\.0 s wall, 10000 events\/s/, 'the last line has no time left');
  });

  it('prints at least once a minute of wall time, with the time left at the recent pace', () => {
    // 100k hosts: a slow warm start (20 wall s per simulated s), then 5.
    const lines = run(600, (s) => (s <= 30 ? 20_000 : 5_000));
    const walls = lines.map((l) => Number(/, ([\d.]+) s wall/.exec(l)![1]) * 1000);
    for (let i = 1; i < walls.length; i++) assert.ok(walls[i]! - walls[i - 1]! <= PLAIN_PROGRESS_MAX_GAP_MS + 20_000, `gap before line ${i}: ${lines[i]}`);
    assert.ok(lines.length >= 57, `a line a minute over ${walls.at(-1)! / 60_000} min, got ${lines.length}`);
    // At simulated s 96: 504 s left at 5 wall s each.
    const steady = lines.find((l) => l.startsWith('progress: 96/600'))!;
    assert.match(steady, /~42 min left/, 'after the warm start, the pace of the last minute');
  });

  it('formats durations for people', () => {
    assert.equal(formatDuration(95), '95 s');
    assert.equal(formatDuration(720), '12 min');
    assert.equal(formatDuration(5040), '84 min');
    assert.equal(formatDuration(9000), '2.5 h');
  });
});
