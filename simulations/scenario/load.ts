import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { ShoalError } from '../../src/core/index.ts';
import { ScenarioSchema, type Scenario } from './schema.ts';

/** Reads and validates a scenario file; errors are `SIM_SCENARIO_INVALID` naming the file and the key. */
export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ShoalError('SIM_SCENARIO_UNREADABLE', `cannot read scenario ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  return parseScenario(text, path);
}

export function parseScenario(text: string, source = '<scenario>'): Scenario {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    throw new ShoalError('SIM_SCENARIO_INVALID', `${source}: not valid TOML: ${(err as Error).message}`, { source }, { cause: err });
  }
  return validateScenario(raw, source);
}

export function validateScenario(raw: unknown, source = '<scenario>'): Scenario {
  const res = ScenarioSchema.safeParse(raw);
  if (!res.success) throw new ShoalError('SIM_SCENARIO_INVALID', `${source}: ${describeIssues(res.error.issues)}`, { source, issues: res.error.issues });
  return res.data;
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path.length > 0 ? i.path.join('.') : '(top level)';
      const extra = i.code === 'unrecognized_keys' ? ` ${(i as { keys: string[] }).keys.join(', ')}` : '';
      return `${path}: ${i.message}${extra}`;
    })
    .join('; ');
}
