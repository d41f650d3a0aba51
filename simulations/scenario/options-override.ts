import { ShoalError } from '../../src/core/index.ts';

/** `probeIntervalMs` → `probe_interval_ms`; `D`/`Dlo` stay recognisable as `d`/`d_lo`. */
export function camelToSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * Applies a snake_case table from a scenario file onto an options object's defaults. Keys
 * must name an existing option and values must have the default's type (a nested budget
 * object takes a sub-table), so a scenario cannot set an option that the code does not read.
 */
export function overrideOptions<T extends object>(defaults: T, table: Readonly<Record<string, unknown>>, where: string): T {
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  const bySnake = new Map<string, string>();
  for (const k of Object.keys(out)) {
    bySnake.set(camelToSnake(k), k);
    bySnake.set(k, k);
  }
  for (const [rawKey, value] of Object.entries(table)) {
    const key = bySnake.get(rawKey);
    if (key === undefined) {
      throw new ShoalError('SIM_SCENARIO_INVALID', `${where}: unknown option "${rawKey}" (known: ${[...new Set(Object.keys(out).map(camelToSnake))].join(', ')})`, { where, option: rawKey });
    }
    const current = out[key];
    if (current !== null && typeof current === 'object' && !Array.isArray(current)) {
      if (value === null || typeof value !== 'object') {
        throw new ShoalError('SIM_SCENARIO_INVALID', `${where}.${rawKey} must be a table`, { where, option: rawKey });
      }
      out[key] = overrideOptions(current, value as Record<string, unknown>, `${where}.${rawKey}`);
      continue;
    }
    const okType = current === null ? value === null || typeof value === 'number' : typeof value === typeof current || (value === null && current === null);
    if (!okType) {
      throw new ShoalError('SIM_SCENARIO_INVALID', `${where}.${rawKey} must be a ${current === null ? 'number or null' : typeof current}, got ${JSON.stringify(value)}`, {
        where,
        option: rawKey,
      });
    }
    out[key] = value;
  }
  return out as T;
}

/** Sets one dotted snake_case key (`gossip.target_cell_size`) on a scenario-like object: the sweep's grid axes. */
export function setDotted(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let obj = target;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    const next = obj[p];
    if (next === undefined || next === null || typeof next !== 'object') obj[p] = {};
    obj = obj[p] as Record<string, unknown>;
  }
  obj[parts[parts.length - 1]!] = value;
}

/** Like `overrideOptions`, but returns only the keys the table sets (validated), for APIs that layer profiles under overrides. */
export function partialOverrides<T extends object>(defaults: T, table: Readonly<Record<string, unknown>>, where: string): Partial<T> {
  const full = overrideOptions(defaults, table, where) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(full)) if (v !== (defaults as Record<string, unknown>)[k]) out[k] = v;
  return out as Partial<T>;
}
