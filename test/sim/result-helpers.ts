import assert from 'node:assert/strict';
import type { RunResult } from '../../simulations/run/result.ts';
import { formatAssertion } from '../../simulations/scenario/assertions.ts';

/** What reproduces a run, for failure messages: scenario, size, seed, trace, failed assertions, first handler error. */
export function why(r: RunResult): string {
  const failed = r.assertions.filter((a) => !a.pass).map(formatAssertion);
  return `scenario ${r.scenario}, ${r.nodes} hosts, seed ${r.seed}, trace ${r.traceHash}${failed.length > 0 ? `; failed: ${failed.join('; ')}` : ''}${r.handlerErrors.length > 0 ? `; first handler error: ${r.handlerErrors[0]!.message}` : ''}`;
}

/** A metric the run must have measured. */
export function metric(r: RunResult, name: string): number {
  const v = r.metrics[name];
  assert.ok(typeof v === 'number' && Number.isFinite(v), `metric ${name} must be measured (${why(r)})`);
  return v;
}
