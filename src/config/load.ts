import { readFileSync } from 'node:fs';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { ShoalError } from '../core/errors.ts';
import { ConfigSchema, type Config } from './schema.ts';
import { camelToSnake, leaves, objectShape, schemaKeyFor, type Leaf } from './schema-walk.ts';

/**
 * Layered configuration: built-in defaults, then a TOML file, then `SHOAL_*` environment
 * variables, then command-line flags; each layer overrides the one before.
 */

export type ConfigErrorCode = 'CONFIG_FILE_UNREADABLE' | 'CONFIG_PARSE' | 'CONFIG_INVALID' | 'CONFIG_UNKNOWN_ENV';

export class ConfigError extends ShoalError<ConfigErrorCode> {
  constructor(code: ConfigErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'ConfigError';
  }
}

type Tree = Record<string, unknown>;

export interface ConfigSources {
  file?: string;
  env?: Record<string, string | undefined>;
  /** Already camelCase, shaped like Config (e.g. `{ agent: { socket } }`). */
  flags?: Tree;
}

/** Environment variables that belong to the CLI client, not to the agent's config. */
const CLIENT_ENV = new Set(['SHOAL_ADDR']);

export function loadConfig(sources: ConfigSources): Config {
  let tree: Tree = {};
  if (sources.file) tree = merge(tree, readTomlFile(sources.file));
  if (sources.env) tree = merge(tree, fromEnv(sources.env));
  if (sources.flags) tree = merge(tree, sources.flags);
  return validate(tree, sources.file);
}

function readTomlFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('CONFIG_FILE_UNREADABLE', `cannot read config file ${file}: ${(err as Error).message}`, { file });
  }
  let raw: Tree;
  try {
    raw = parseToml(text) as Tree;
  } catch (err) {
    const where = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : '';
    throw new ConfigError('CONFIG_PARSE', `config file ${file} is not valid TOML${where}: ${firstLine((err as Error).message)}`, { file });
  }
  return camelizeKeys(raw, ConfigSchema);
}

/** snake_case → camelCase for keys the schema declares as object fields; record keys (labels) stay as written. */
function camelizeKeys(raw: Tree, schema: z.ZodType): Tree {
  const shape = objectShape(schema);
  if (!shape) return raw;
  const out: Tree = {};
  for (const [key, value] of Object.entries(raw)) {
    const camel = schemaKeyFor(shape, key);
    // Unknown keys pass through as written, so the schema names them in its error.
    const child = camel === undefined ? undefined : shape[camel];
    out[camel ?? key] = child && isPlainObject(value) ? camelizeKeys(value, child) : value;
  }
  return out;
}

function envName(leaf: Leaf): string {
  return `SHOAL_${leaf.path.map(camelToSnake).join('_').toUpperCase()}`;
}

let envTable: Map<string, Leaf> | undefined;

/** `SHOAL_AGENT_DATA_DIR` → agent.dataDir, and so on for every leaf of the schema. */
export function envVariables(): Map<string, Leaf> {
  envTable ??= new Map(leaves(ConfigSchema).map((leaf) => [envName(leaf), leaf]));
  return envTable;
}

function fromEnv(env: Record<string, string | undefined>): Tree {
  const table = envVariables();
  const tree: Tree = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('SHOAL_') || CLIENT_ENV.has(name) || value === undefined) continue;
    const leaf = table.get(name);
    if (!leaf) {
      throw new ConfigError('CONFIG_UNKNOWN_ENV', `unknown environment variable ${name}`, {
        variable: name,
        known: [...table.keys()],
      });
    }
    setPath(tree, leaf.path, parseEnvValue(name, value, leaf));
  }
  return tree;
}

function parseEnvValue(name: string, value: string, leaf: Leaf): unknown {
  switch (leaf.kind) {
    case 'number': {
      const n = Number(value);
      // Leave a non-number as the string: the schema then reports the key and the expected type.
      return value.trim() !== '' && Number.isFinite(n) ? n : value;
    }
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    case 'string-array':
      return value === '' ? [] : value.split(',').map((s) => s.trim());
    case 'labels':
      return Object.fromEntries(
        value
          .split(',')
          .filter(Boolean)
          .map((pair) => {
            const eq = pair.indexOf('=');
            if (eq < 1) throw new ConfigError('CONFIG_INVALID', `${name}: expected key=value pairs separated by commas, got "${pair}"`, { variable: name });
            return [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
          }),
      );
    default:
      return value;
  }
}

function validate(tree: Tree, file: string | undefined): Config {
  const result = ConfigSchema.safeParse(tree);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map((p) => camelToSnake(String(p)));
    const keys = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...path, camelToSnake(k)].join('.')) : [path.join('.')];
    const message = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
    return { keys, message };
  });
  const text = problems.map((p) => `${p.keys.join(', ') || '(root)'}: ${p.message}`).join('; ');
  throw new ConfigError('CONFIG_INVALID', `invalid configuration${file ? ` (${file})` : ''}: ${text}`, {
    problems: problems.map((p) => ({ key: p.keys.join(', '), message: p.message })),
  });
}

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? merge(out[key] as Tree, value) : value;
  }
  return out;
}

function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Tree;
  }
  node[path[path.length - 1]!] = value;
}

function isPlainObject(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
