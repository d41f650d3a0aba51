import { Packr } from 'msgpackr';
import { z } from 'zod';
import { DRIVER_NAMES, JOB_STATES, type JobRecord } from '../core/job.ts';
import { LABEL_FILTER_BYTES, NO_LABELS } from '../gossip/label-filter.ts';
import { SUMMARY_SHAPES } from '../gossip/records.ts';
import { MAX_CLUSTER_BUCKETS, type ClusterSummary } from './cluster-summary.ts';
import { FederationError } from './errors.ts';
import { CLUSTER_NAME_PATTERN } from './global-address.ts';

/**
 * The federation's two request/response protocols, as versioned msgpack maps checked
 * against a schema before anything reads them:
 *  - between gateways of different clusters (`RemoteRequest`), over the federation channel;
 *  - from an entry agent to a gateway of its own cluster (`EntryRequest`), over the mesh.
 * Every answer is a `Reply`: errors travel as data (code, message), so the caller in one
 * cluster sees the code the other cluster's gateway chose.
 */

export const FEDERATION_WIRE_VERSION = 1;

const clusterName = z.string().regex(CLUSTER_NAME_PATTERN, 'must be a cluster name');
const jobId = z.string().min(1).max(100);
const count = z.number().int().nonnegative().max(1e9);
const amount = z.number().nonnegative().max(1e12);
const resources = z.strictObject({ vcpus: amount, memoryMiB: amount, diskGiB: amount });

export const ClusterBucketSchema = z.strictObject({
  zone: z.string().min(1).max(63),
  drivers: z.array(z.enum(DRIVER_NAMES)).max(DRIVER_NAMES.length),
  hosts: count,
  fits: z.array(count).length(SUMMARY_SHAPES.length),
  maxFree: resources,
  totalFree: resources,
  totalCapacity: resources,
  labelFilter: z
    .instanceof(Uint8Array)
    .refine((f) => f.length === 0 || f.length === LABEL_FILTER_BYTES, `must be 0 or ${LABEL_FILTER_BYTES} bytes`)
    // msgpack hands bytes over as a Buffer viewing the whole frame: keep a copy of the filter only.
    .transform((f) => (f.length === 0 ? NO_LABELS : new Uint8Array(f))),
});

export const ClusterSummarySchema = z.strictObject({
  cluster: clusterName,
  region: z.string().min(1).max(63),
  gateway: z.string().min(1).max(128),
  issuedAtMs: z.number().finite(),
  hosts: count,
  cells: count,
  buckets: z.array(ClusterBucketSchema).max(MAX_CLUSTER_BUCKETS),
});

/** A job record from another cluster: the fields Shoal reads are checked, the rest passes. */
export const RemoteJobRecordSchema = z.looseObject({
  id: z.string().min(1).max(200),
  host: z.string().min(1).max(200),
  state: z.enum(JOB_STATES),
  desired: z.enum(['running', 'stopped', 'deleted']),
  epoch: z.number().int().nonnegative(),
  spec: z.looseObject({ name: z.string(), tenant: z.string(), labels: z.record(z.string(), z.string()) }),
});

const v = z.literal(FEDERATION_WIRE_VERSION);

export const RemoteRequestSchema = z.discriminatedUnion('op', [
  /** Push-pull: the sender's summary and whether the receiver's jobs are welcome at the sender. */
  z.strictObject({ v, op: z.literal('summary'), summary: ClusterSummarySchema, acceptsYou: z.boolean() }),
  /** The spec is checked by JobSpecSchema on arrival, for field-precise errors. */
  z.strictObject({ v, op: z.literal('place'), spec: z.record(z.string(), z.unknown()) }),
  z.strictObject({ v, op: z.literal('get'), id: jobId }),
  z.strictObject({ v, op: z.literal('stop'), id: jobId }),
]);
type RemoteRequestWire = z.output<typeof RemoteRequestSchema>;
/** As sent: the summary is this module's `ClusterSummary` (readonly), which the decoded wire form satisfies. */
export type RemoteRequest = Exclude<RemoteRequestWire, { op: 'summary' }> | { readonly v: 1; readonly op: 'summary'; readonly summary: ClusterSummary; readonly acceptsYou: boolean };

export const EntryRequestSchema = z.discriminatedUnion('op', [
  /** `named`: the spec names another cluster or region (no local attempt was made). */
  z.strictObject({ v, op: z.literal('burst'), spec: z.record(z.string(), z.unknown()) }),
  z.strictObject({ v, op: z.literal('get'), cluster: clusterName, id: jobId }),
  z.strictObject({ v, op: z.literal('stop'), cluster: clusterName, id: jobId }),
  /** Which cluster a key was burst to, if any: checked before placing a keyed job locally. */
  z.strictObject({ v, op: z.literal('lookup'), tenant: z.string().min(1).max(63), key: z.string().min(1).max(128) }),
  /** A sibling gateway's copy of a burst binding (null: the binding is gone), so a retry through this gateway goes to the same cluster. */
  z.strictObject({ v, op: z.literal('bind'), tenant: z.string().min(1).max(63), key: z.string().min(1).max(128), cluster: clusterName.nullable() }),
]);
export type EntryRequest = z.output<typeof EntryRequestSchema>;

export const ReplySchema = z.discriminatedUnion('ok', [
  z.strictObject({
    ok: z.literal(true),
    summary: ClusterSummarySchema.optional(),
    acceptsYou: z.boolean().optional(),
    job: RemoteJobRecordSchema.nullable().optional(),
    created: z.boolean().optional(),
    cluster: clusterName.nullable().optional(),
  }),
  z.strictObject({
    ok: z.literal(false),
    code: z.string().min(1).max(64),
    message: z.string().max(4000),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
]);

/** A successful answer; which fields are set depends on the request. */
export interface OkReply {
  readonly ok: true;
  readonly summary?: ClusterSummary;
  readonly acceptsYou?: boolean;
  /** A job record of the answering cluster (checked loosely: the fields Shoal reads). */
  readonly job?: JobRecord | null;
  readonly created?: boolean;
  readonly cluster?: string | null;
}

export interface ErrorReply {
  readonly ok: false;
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

export type Reply = OkReply | ErrorReply;

// Plain maps, no shared record structures: every frame decodes on its own, across versions.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });

export function encodeFederationMessage(msg: RemoteRequest | EntryRequest | Reply, maxMessageBytes: number): Uint8Array {
  const bytes = packr.pack(msg);
  if (bytes.length > maxMessageBytes) {
    throw new FederationError('FEDERATION_BAD_MESSAGE', `federation message of ${bytes.length} bytes is over the ${maxMessageBytes}-byte limit`, { bytes: bytes.length, maxMessageBytes });
  }
  return bytes;
}

/** Size, msgpack, a plain map, then the schema; each failure is FEDERATION_BAD_MESSAGE saying which. */
export function decodeFederationMessage<S extends z.ZodType>(bytes: Uint8Array, schema: S, what: string, maxMessageBytes: number): z.output<S> {
  if (bytes.length > maxMessageBytes) {
    throw new FederationError('FEDERATION_BAD_MESSAGE', `${what} of ${bytes.length} bytes is over the ${maxMessageBytes}-byte limit`, { bytes: bytes.length, maxMessageBytes });
  }
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (err) {
    throw new FederationError('FEDERATION_BAD_MESSAGE', `${what} is not valid msgpack: ${(err as Error).message}`, { bytes: bytes.length });
  }
  if (typeof raw !== 'object' || raw === null || Object.getPrototypeOf(raw) !== Object.prototype) {
    throw new FederationError('FEDERATION_BAD_MESSAGE', `${what} is not a map`);
  }
  const version = (raw as { v?: unknown }).v;
  if ('v' in raw && version !== FEDERATION_WIRE_VERSION) {
    throw new FederationError('FEDERATION_BAD_MESSAGE', `${what} has version ${String(version)}; this gateway speaks ${FEDERATION_WIRE_VERSION}`, { version });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw new FederationError('FEDERATION_BAD_MESSAGE', `invalid ${what}: ${issues.join('; ')}`, { issues });
  }
  return parsed.data;
}

/** A reply, checked by `ReplySchema`. */
export function decodeReply(bytes: Uint8Array, what: string, maxMessageBytes: number): Reply {
  return decodeFederationMessage(bytes, ReplySchema, what, maxMessageBytes) as Reply;
}
