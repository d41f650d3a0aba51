import { ShoalError } from '../../src/core/index.ts';
import { setDotted } from '../scenario/options-override.ts';
import type { Scenario } from '../scenario/schema.ts';
import { validateScenario } from '../scenario/load.ts';

export interface SweepAxis {
  /** Dotted snake_case path in the scenario: `nodes`, `gossip.target_cell_size`, `gossipsub.heartbeat_ms`… */
  readonly key: string;
  readonly values: readonly (number | string | boolean)[];
}

function parseValue(s: string): number | string | boolean {
  if (s === 'true') return true;
  if (s === 'false') return false;
  const n = Number(s);
  return s.trim() !== '' && Number.isFinite(n) ? n : s;
}

/** Parses `key=v1,v2,…`; errors name the bad argument. */
export function parseSweepArg(arg: string): SweepAxis {
  const eq = arg.indexOf('=');
  if (eq <= 0 || eq === arg.length - 1) throw new ShoalError('SIM_BAD_SWEEP', `--sweep ${arg}: expected key=v1,v2,… (e.g. gossip.target_cell_size=32,48,64)`, { arg });
  const key = arg.slice(0, eq).trim();
  if (!/^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$/i.test(key)) throw new ShoalError('SIM_BAD_SWEEP', `--sweep ${arg}: "${key}" is not a dotted option path`, { arg });
  const values = arg.slice(eq + 1).split(',').map((v) => parseValue(v.trim()));
  return { key, values };
}

/** Every combination of the axes, as scenarios validated like a file would be (a bad key fails here, before any run). */
export function expandGrid(base: Scenario, axes: readonly SweepAxis[]): { point: Record<string, number | string | boolean>; scenario: Scenario }[] {
  let points: Record<string, number | string | boolean>[] = [{}];
  for (const a of axes) points = points.flatMap((p) => a.values.map((v) => ({ ...p, [a.key]: v })));
  return points.map((point) => {
    const raw = structuredClone(base) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(point)) setDotted(raw, k, v);
    return { point, scenario: validateScenario(raw, `sweep point ${JSON.stringify(point)}`) };
  });
}
