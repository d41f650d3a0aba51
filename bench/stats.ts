/** Small pure statistics for the bench's figures. */

export interface Summary {
  count: number;
  mean: number | null;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/**
 * The q-quantile of `values` by the nearest-rank method (the smallest value with at least
 * q·n values at or below it), so a p99 of 100 samples is the 99th smallest, never an
 * interpolation that no request actually took. Null for no values.
 */
export function quantile(values: readonly number[], q: number): number | null {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

export function summarize(values: readonly number[]): Summary {
  return {
    count: values.length,
    mean: mean(values),
    p50: quantile(values, 0.5),
    p99: quantile(values, 0.99),
    max: values.length === 0 ? null : Math.max(...values),
  };
}

/** a ÷ b, or null when either is missing or b is 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return a / b;
}

/** (measured − reference) ÷ reference, or null when the reference is missing or 0. */
export function relativeError(simulated: number | null | undefined, real: number | null | undefined): number | null {
  if (simulated === null || simulated === undefined || real === null || real === undefined || real === 0) return null;
  return (simulated - real) / real;
}

/** Per-second rate of a counter between two readings. */
export function ratePerS(before: number, after: number, elapsedMs: number): number {
  if (!(elapsedMs > 0)) throw new RangeError(`elapsed time must be positive, got ${elapsedMs} ms`);
  return ((after - before) * 1000) / elapsedMs;
}
