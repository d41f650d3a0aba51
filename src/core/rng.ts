import { hash32 } from './hash.ts';

/**
 * Randomness, injected and seeded. The simulator replays a run exactly from its seed, so the
 * protocol core draws every random number from an Rng it was given.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** An independent stream derived from this one's seed and `label`; drawing from it does not advance this one. */
  fork(label: string): Rng;
}

/** xoshiro128** seeded through splitmix32: fast, 2^128 - 1 period, good enough for protocol jitter and sampling. */
export class SeededRng implements Rng {
  readonly seed: number;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    let s = this.seed;
    const splitmix = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix();
    this.b = splitmix();
    this.c = splitmix();
    this.d = splitmix();
  }

  private nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  next(): number {
    return this.nextUint32() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  fork(label: string): Rng {
    return new SeededRng((this.seed ^ hash32(label)) >>> 0);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Fisher–Yates on a copy, drawing from `rng`. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = out[i]!;
    out[i] = out[j]!;
    out[j] = tmp;
  }
  return out;
}

/** Up to `k` distinct items, uniformly, without replacement. */
export function sample<T>(items: readonly T[], k: number, rng: Rng): T[] {
  if (k >= items.length) return shuffled(items, rng);
  const picked = new Set<number>();
  const out: T[] = [];
  while (out.length < k) {
    const i = rng.int(items.length);
    if (!picked.has(i)) {
      picked.add(i);
      out.push(items[i]!);
    }
  }
  return out;
}

/** `ms` spread uniformly over ± `fraction` of itself: periodic timers of many nodes drift apart. */
export function jittered(ms: number, fraction: number, rng: Rng): number {
  return ms * (1 - fraction + 2 * fraction * rng.next());
}
