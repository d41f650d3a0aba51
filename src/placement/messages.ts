import { z } from 'zod';
import { DRIVER_NAMES, JobSpecSchema } from '../core/job.ts';
import { PLACEMENT_ERRORS, type PlacementErrorCode } from './errors.ts';
import { REFUSAL_REASONS } from './feasibility.ts';
import type { AdmitResult } from './host-ledger.ts';
import type { AttemptOutcome } from './placement-attempt.ts';

/**
 * The placement protocol's messages. All travel as one-way direct messages in a versioned
 * envelope (`v`, `t`); replies carry the request's `id`, chosen by the requester.
 *
 *   entry ──submit──▶ (contact ──submit──▶) owner ──submit-ack/submit-result──▶ entry
 *   owner ──admit──▶ host ──admit-result──▶ owner          (own cell)
 *   owner ──route──▶ contact ──admit──▶ host …  contact ──route-result──▶ owner   (other cell)
 *   owner ──release──▶ host                                 (a superseded or late admission)
 *   any   ──locate──▶ (contact ──locate──▶) owner ──locate-result──▶ any
 *
 * A re-placement (evacuation of a failed host, drain) is a `submit` carrying `replace`: the
 * key owner serialises it with submits of the same key, places the same job id at a higher
 * epoch excluding the old host, updates its binding, then sends `release` to the old host.
 */
export const PLACEMENT_PROTOCOL_VERSION = 1;

export const PLACEMENT_MESSAGE_TYPES = [
  'submit',
  'submit-ack',
  'submit-result',
  'route',
  'route-result',
  'admit',
  'admit-result',
  'release',
  'locate',
  'locate-result',
] as const;
export type PlacementMessageType = (typeof PLACEMENT_MESSAGE_TYPES)[number];

const v = z.literal(PLACEMENT_PROTOCOL_VERSION);
const peer = z.string().min(1).max(128);
const peers = z.array(peer).max(64);
/** Addresses an entry sends with its requests (the first few of its record's). */
export const MAX_ENTRY_ADDRS = 8;
const addrs = z.array(z.string().min(1).max(256)).max(MAX_ENTRY_ADDRS);
const reqId = z.number().int().min(0).max(0xffffffff);
const jobId = z.string().min(1).max(128);
const epoch = z.number().int().min(1).max(0x7fffffff);
const count = z.number().int().min(0).max(0x7fffffff);
const digest = z.string().min(1).max(128);
const key = z.string().min(1).max(128);
const tenant = z.string().min(1).max(63);
const hops = z.number().int().min(0).max(16);
const message = z.string().max(4096);
const driver = z.enum(DRIVER_NAMES);
const errorCode = z.enum(Object.keys(PLACEMENT_ERRORS) as [PlacementErrorCode, ...PlacementErrorCode[]]);
const reason = z.enum(REFUSAL_REASONS);
// Free capacity may be negative on an axis when a host shrank under its jobs.
const signedAxis = z.number().int().min(-0x7fffffff).max(0x7fffffff);
const resources = z.strictObject({ vcpus: signedAxis, memoryMiB: signedAxis, diskGiB: signedAxis });
const reasons = z.partialRecord(reason, count);

const placedOutcome = z.strictObject({
  type: z.literal('placed'),
  jobId,
  host: peer,
  epoch,
  driver,
  duplicate: z.boolean(),
  free: resources,
  asks: count,
});
const refusedOutcome = z.strictObject({
  type: z.literal('refused'),
  code: z.literal('PLACEMENT_NO_CAPACITY'),
  message,
  reasons,
  checked: count,
  rejections: reasons,
  rejected: count,
  asks: count,
});
const failedOutcome = z.strictObject({ type: z.literal('failed'), code: errorCode, message, asks: count });
const attemptOutcome = z.discriminatedUnion('type', [placedOutcome, refusedOutcome, failedOutcome]);

const submitPlaced = z.strictObject({
  type: z.literal('placed'),
  jobId,
  host: peer,
  epoch,
  driver,
  duplicate: z.boolean(),
  asks: count,
});
const submitOutcome = z.discriminatedUnion('type', [submitPlaced, refusedOutcome, failedOutcome]);

const admitResult = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('accepted'), jobId, epoch, driver, duplicate: z.boolean(), free: resources }),
  z.strictObject({ type: z.literal('rejected'), code: errorCode, reason: reason.nullable(), message, free: resources }),
]);

export const SubmitMessageSchema = z.strictObject({
  v,
  t: z.literal('submit'),
  id: reqId,
  /** The entry agent: the owner answers it directly, whoever forwarded the submit. */
  entry: peer,
  /** The entry's addresses: an owner in another cell has no connection to it, nor its record. */
  entryAddrs: addrs.optional(),
  tenant,
  key,
  spec: JobSpecSchema,
  specDigest: digest,
  hops,
  /** Owners the entry found unreachable: a forwarding contact skips them too. */
  avoid: peers,
  /** The job id a previous owner announced for this key. */
  jobIdHint: jobId.optional(),
  /**
   * Re-place an existing job (evacuation, drain): same job id and key, a higher epoch, never on
   * `fromHost`. With `bindOnly`, nothing moves: the key owner only learns that the job lives on
   * `fromHost` at `fromEpoch` (its previous owner failed and the binding was lost with it).
   */
  replace: z.strictObject({ jobId, fromHost: peer, fromEpoch: epoch, driver, bindOnly: z.boolean().optional() }).optional(),
});

/** From the owner: it coordinates the job `jobId`. Without `jobId`: a contact forwarded the submit to `owner`. */
export const SubmitAckMessageSchema = z.strictObject({ v, t: z.literal('submit-ack'), id: reqId, owner: peer, jobId: jobId.optional() });
export const SubmitResultMessageSchema = z.strictObject({ v, t: z.literal('submit-result'), id: reqId, outcome: submitOutcome });

export const RouteMessageSchema = z.strictObject({
  v,
  t: z.literal('route'),
  id: reqId,
  jobId,
  epoch,
  spec: JobSpecSchema,
  specDigest: digest,
  maxAsks: z.number().int().min(1).max(64),
  exclude: peers,
  budgetMs: z.number().int().min(1).max(600_000),
});
export const RouteResultMessageSchema = z.strictObject({ v, t: z.literal('route-result'), id: reqId, jobId, outcome: attemptOutcome });

export const AdmitMessageSchema = z.strictObject({ v, t: z.literal('admit'), id: reqId, jobId, epoch, spec: JobSpecSchema, specDigest: digest });
export const AdmitResultMessageSchema = z.strictObject({ v, t: z.literal('admit-result'), id: reqId, result: admitResult });

export const ReleaseMessageSchema = z.strictObject({ v, t: z.literal('release'), jobId, epoch });

export const LocateMessageSchema = z.strictObject({ v, t: z.literal('locate'), id: reqId, entry: peer, entryAddrs: addrs.optional(), jobId, hops, avoid: peers });
export const LocateResultMessageSchema = z.strictObject({
  v,
  t: z.literal('locate-result'),
  id: reqId,
  jobId,
  binding: z.strictObject({ host: peer.nullable(), epoch, state: z.enum(['placing', 'placed']) }).nullable(),
});

export const PlacementMessageSchema = z.discriminatedUnion('t', [
  SubmitMessageSchema,
  SubmitAckMessageSchema,
  SubmitResultMessageSchema,
  RouteMessageSchema,
  RouteResultMessageSchema,
  AdmitMessageSchema,
  AdmitResultMessageSchema,
  ReleaseMessageSchema,
  LocateMessageSchema,
  LocateResultMessageSchema,
]);

export type SubmitMessage = z.output<typeof SubmitMessageSchema>;
export type SubmitAckMessage = z.output<typeof SubmitAckMessageSchema>;
export type SubmitResultMessage = z.output<typeof SubmitResultMessageSchema>;
export type RouteMessage = z.output<typeof RouteMessageSchema>;
export type RouteResultMessage = z.output<typeof RouteResultMessageSchema>;
export type AdmitMessage = z.output<typeof AdmitMessageSchema>;
export type AdmitResultMessage = z.output<typeof AdmitResultMessageSchema>;
export type ReleaseMessage = z.output<typeof ReleaseMessageSchema>;
export type LocateMessage = z.output<typeof LocateMessageSchema>;
export type LocateResultMessage = z.output<typeof LocateResultMessageSchema>;
/** The job a re-placement moves, and the copy it replaces. */
export type ReplaceTarget = NonNullable<SubmitMessage['replace']>;
export type PlacementMessage = z.output<typeof PlacementMessageSchema>;

/** What the entry agent's caller gets: the API maps `placed` → 201/200, `refused` → 422, `failed` → the code's status. */
export type SubmitOutcome = z.output<typeof submitOutcome>;

/** The location of a job as its owner knows it; null when the owner has no binding. */
export type LocateOutcome =
  | { readonly type: 'found'; readonly jobId: string; readonly host: string | null; readonly epoch: number; readonly state: 'placing' | 'placed' }
  | { readonly type: 'not-found'; readonly jobId: string }
  | { readonly type: 'failed'; readonly jobId: string; readonly code: PlacementErrorCode; readonly message: string };

// Compile-time checks that the schemas and the hand-written result types agree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const outcomeTypesAgree: Same<z.output<typeof attemptOutcome>['type'], AttemptOutcome['type']> = true;
const admitTypesAgree: Same<z.output<typeof admitResult>['type'], AdmitResult['type']> = true;
void outcomeTypesAgree;
void admitTypesAgree;
