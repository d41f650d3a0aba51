import { DRIVER_NAMES, type DriverName } from '../core/job.ts';
import type { Resources } from '../core/resources.ts';
import { rejectMsg } from './errors.ts';

/**
 * Hand-written field checks for the msgpack tuples of codec.ts. Decoding runs once per
 * distinct message, but at 100k simulated nodes that is still ~10^5 messages per simulated
 * second; these checks cost a fraction of what a zod schema does (see the codec bench in
 * test/unit/gossip/codec.test.ts). Every failure is a `reject`: a healthy peer never
 * produces a malformed tuple.
 */

export function schemaError(path: string, what: string): never {
  throw rejectMsg('GOSSIP_SCHEMA', `${path}: ${what}`, { path });
}

export function boundsError(path: string, what: string): never {
  throw rejectMsg('GOSSIP_BOUNDS', `${path}: ${what}`, { path });
}

export function tuple(v: unknown, path: string, minLen: number, maxLen: number): unknown[] {
  if (!Array.isArray(v)) schemaError(path, 'expected an array');
  if (v.length < minLen || v.length > maxLen) schemaError(path, `expected ${minLen}..${maxLen} items, got ${v.length}`);
  return v;
}

export function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) schemaError(path, 'expected an integer');
  if (v < min || v > max) boundsError(path, `${v} outside [${min}, ${max}]`);
  return v;
}

export function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') schemaError(path, 'expected a boolean');
  return v;
}

export function str(v: unknown, path: string, minLen: number, maxLen: number, re?: RegExp): string {
  if (typeof v !== 'string') schemaError(path, 'expected a string');
  if (v.length < minLen || v.length > maxLen) boundsError(path, `length ${v.length} outside [${minLen}, ${maxLen}]`);
  if (re && !re.test(v)) schemaError(path, `does not match ${re.source}`);
  return v;
}

/** libp2p peer ids (base58btc or base32 CIDs) and the simulator's synthetic ids. */
export const PEER_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
export const CLUSTER_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** Same rule as LabelsSchema's keys in src/core/job.ts. */
export const LABEL_KEY_RE = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;
/** Printable ASCII only: multiaddrs, zones, anti-affinity groups and label values. */
export const PRINTABLE_RE = /^[\x20-\x7e]*$/;

export function peerId(v: unknown, path: string): string {
  return str(v, path, 1, 128, PEER_ID_RE);
}

export function stringList(v: unknown, path: string, maxItems: number, maxLen: number, re: RegExp): string[] {
  const arr = tuple(v, path, 0, maxItems);
  for (let i = 0; i < arr.length; i++) str(arr[i], `${path}[${i}]`, 1, maxLen, re);
  return arr as string[];
}

/** Resource vectors travel as [vcpus, memoryMiB, diskGiB]. */
export const MAX_VCPUS = 1 << 20;
export const MAX_MEMORY_MIB = 2 ** 40;
export const MAX_DISK_GIB = 2 ** 40;

export function resources(v: unknown, path: string, allowNegative: boolean): Resources {
  const t = tuple(v, path, 3, 3);
  const f = allowNegative ? -1 : 0;
  return {
    vcpus: int(t[0], `${path}.vcpus`, f * MAX_VCPUS, MAX_VCPUS),
    memoryMiB: int(t[1], `${path}.memoryMiB`, f * MAX_MEMORY_MIB, MAX_MEMORY_MIB),
    diskGiB: int(t[2], `${path}.diskGiB`, f * MAX_DISK_GIB, MAX_DISK_GIB),
  };
}

export function resourcesTuple(r: Resources): number[] {
  return [r.vcpus, r.memoryMiB, r.diskGiB];
}

export function notAbove(a: Resources, b: Resources, path: string, what: string): void {
  if (a.vcpus > b.vcpus || a.memoryMiB > b.memoryMiB || a.diskGiB > b.diskGiB) boundsError(path, what);
}

/** Driver sets travel as a bitmask over DRIVER_NAMES; decoding returns one shared frozen array per mask. */
const DRIVER_SETS: readonly (readonly DriverName[])[] = Array.from({ length: 1 << DRIVER_NAMES.length }, (_, mask) =>
  Object.freeze(DRIVER_NAMES.filter((_d, i) => (mask >> i) & 1)),
);

export function driversFromMask(v: unknown, path: string): readonly DriverName[] {
  return DRIVER_SETS[int(v, path, 0, DRIVER_SETS.length - 1)]!;
}

export function driversToMask(drivers: readonly DriverName[]): number {
  let mask = 0;
  for (const d of drivers) {
    const i = DRIVER_NAMES.indexOf(d);
    if (i >= 0) mask |= 1 << i;
  }
  return mask;
}

/** The canonical shared array for a driver set, so equal sets compare by identity. */
export function canonicalDrivers(drivers: readonly DriverName[]): readonly DriverName[] {
  return DRIVER_SETS[driversToMask(drivers)]!;
}

export const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);
export const MAX_LABELS = 32;

/** Labels travel as a flat [key, value, key, value, …] list; decoded into a null-prototype object. */
export function labelsFromFlat(v: unknown, path: string): Readonly<Record<string, string>> {
  const flat = tuple(v, path, 0, MAX_LABELS * 2);
  if (flat.length === 0) return EMPTY_LABELS;
  if (flat.length % 2 !== 0) schemaError(path, 'expected key/value pairs');
  const out = Object.create(null) as Record<string, string>;
  for (let i = 0; i < flat.length; i += 2) {
    const k = str(flat[i], `${path}[${i}]`, 1, 63, LABEL_KEY_RE);
    if (k in out) schemaError(path, `duplicate label ${k}`);
    out[k] = str(flat[i + 1], `${path}[${i + 1}]`, 0, 128, PRINTABLE_RE);
  }
  return Object.freeze(out);
}

export function labelsToFlat(labels: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(labels)) out.push(k, labels[k]!);
  return out;
}
