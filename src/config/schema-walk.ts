import type { z } from 'zod';

/**
 * Just enough introspection of the config schema to map snake_case TOML keys and
 * `SHOAL_*` variables onto it, so the schema stays the one place that lists the keys.
 */

export type LeafKind = 'string' | 'number' | 'boolean' | 'string-array' | 'labels' | 'object' | 'other';

interface Def {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
}

function def(schema: z.ZodType): Def {
  return (schema as unknown as { def: Def }).def;
}

/** Strips default/prefault/optional/nullable wrappers. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const d = def(s);
    if ((d.type === 'default' || d.type === 'prefault' || d.type === 'optional' || d.type === 'nullable') && d.innerType) {
      s = d.innerType;
    } else {
      return s;
    }
  }
}

export function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const d = def(unwrap(schema));
  return d.type === 'object' ? d.shape : undefined;
}

export function leafKind(schema: z.ZodType): LeafKind {
  const d = def(unwrap(schema));
  switch (d.type) {
    case 'string':
    case 'enum':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array':
      return 'string-array';
    case 'record':
      return 'labels';
    case 'object':
      return 'object';
    default:
      return 'other';
  }
}

/** `maxBodyBytes` → `max_body_bytes`; binary units stay one word (`memoryMiB` → `memory_mib`). */
export function camelToSnake(key: string): string {
  return key
    .replace(/([KMGT])iB/g, (_, p: string) => `${p}ib`)
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** The schema key a snake_case key names, if any. */
export function schemaKeyFor(shape: Record<string, unknown>, snakeKey: string): string | undefined {
  return Object.keys(shape).find((k) => camelToSnake(k) === snakeKey || k === snakeKey);
}

export interface Leaf {
  /** camelCase path in the Config object. */
  path: string[];
  kind: LeafKind;
}

/** Every settable leaf of the schema (records such as `labels` count as one leaf). */
export function leaves(schema: z.ZodType, prefix: string[] = []): Leaf[] {
  const shape = objectShape(schema);
  if (!shape) return [{ path: prefix, kind: leafKind(schema) }];
  return Object.entries(shape).flatMap(([key, child]) => leaves(child, [...prefix, key]));
}
