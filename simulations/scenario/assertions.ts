/**
 * Declarative checks a scenario holds about its own run, lodestar-style:
 * `{ metric = "peak_to_steady_msgs", op = "<=", value = 2 }`. A metric the run did not
 * produce fails the assertion (a typo must not pass silently).
 */
export const ASSERTION_OPS = ['<', '<=', '>', '>=', '==', '!='] as const;
export type AssertionOp = (typeof ASSERTION_OPS)[number];

export interface AssertionLike {
  readonly metric: string;
  readonly op: AssertionOp;
  readonly value: number;
  readonly why?: string | undefined;
}

export interface AssertionResult {
  readonly metric: string;
  readonly op: AssertionOp;
  readonly value: number;
  /** What the run measured; null when it did not produce the metric. */
  readonly actual: number | null;
  readonly pass: boolean;
  readonly why?: string | undefined;
}

export function compare(actual: number, op: AssertionOp, value: number): boolean {
  switch (op) {
    case '<':
      return actual < value;
    case '<=':
      return actual <= value;
    case '>':
      return actual > value;
    case '>=':
      return actual >= value;
    case '==':
      return actual === value;
    case '!=':
      return actual !== value;
  }
}

export function evaluateAssertions(assertions: readonly AssertionLike[], metrics: Readonly<Record<string, number | null>>): AssertionResult[] {
  return assertions.map((a) => {
    const actual = metrics[a.metric];
    const known = typeof actual === 'number' && Number.isFinite(actual);
    return { metric: a.metric, op: a.op, value: a.value, actual: known ? actual : null, pass: known && compare(actual, a.op, a.value), why: a.why };
  });
}

export function formatAssertion(r: AssertionResult): string {
  const got = r.actual === null ? 'not measured' : formatNumber(r.actual);
  return `${r.pass ? 'PASS' : 'FAIL'} ${r.metric} ${r.op} ${r.value} (got ${got})${!r.pass && r.why ? ` — ${r.why}` : ''}`;
}

export function formatNumber(x: number): string {
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(1) : a >= 1 ? x.toFixed(3) : x.toPrecision(3);
}
