import { pack, unpack } from 'msgpackr';
import { z } from 'zod';
import { ShoalError, errorMessage } from '../../core/errors.ts';
import { DRIVER_NAMES, JOB_STATES, JobSpecSchema, type JobRecord } from '../../core/job.ts';
import type { PeerIdStr, Transport } from '../../core/transport.ts';
import type { FenceNotice, ReplicaOutcome } from '../../placement/recovery/index.ts';

/**
 * The recovery protocol between agents: one request, one response per stream, msgpack, every
 * request validated before it is acted on.
 *
 *   owner     ──push──▶ holder      records (upserts, removals; `ids` ends a full sync) → fence notices
 *   owner     ──forget──▶ holder    no longer one of my holders
 *   evacuator ──outcome──▶ holder   what became of a failed owner's jobs
 *   owner     ──query──▶ holder     outcomes about my jobs (a returning host fences by them)
 *   any       ──lookup──▶ holder    a failed host's record (`shoal status` of a lost job)
 *   any       ──drain──▶ host       drain or undrain yourself
 */
export const RECOVERY_PROTOCOL = '/shoal/recovery/2.0.0';

/** Records per push: ~0.5–1 KB each keeps a push well under the 1 MiB request frame. */
export const MAX_RECORDS_PER_PUSH = 256;
/** Job ids in a full sync's closing message (22-char ids: ~2.5 MB would break the frame; 40k ≈ 1 MB). */
export const MAX_SYNC_IDS = 40_000;

const peer = z.string().min(1).max(128);
const jobId = z.string().min(1).max(128);
const ms = z.number().finite().min(0);

export const JobRecordSchema = z.strictObject({
  id: jobId,
  spec: JobSpecSchema,
  specDigest: z.string().max(128),
  host: peer,
  driver: z.enum(DRIVER_NAMES),
  desired: z.enum(['running', 'stopped', 'deleted']),
  state: z.enum(JOB_STATES),
  epoch: z.number().int().min(1).max(0x7fffffff),
  reason: z.string().max(4096).optional(),
  driverRef: z.string().max(4096).optional(),
  createdAtMs: ms,
  updatedAtMs: ms,
});

export const OutcomeSchema = z.strictObject({
  type: z.enum(['replaced', 'lost']),
  host: peer.nullable(),
  epoch: z.number().int().min(1).max(0x7fffffff),
  reason: z.string().max(1024),
  atMs: ms,
  by: peer,
});

const JobOutcome = z.strictObject({ jobId, outcome: OutcomeSchema });

export const RecoveryRequestSchema = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('push'),
    holders: z.array(peer).max(16),
    records: z.array(JobRecordSchema).max(MAX_RECORDS_PER_PUSH),
    removed: z.array(jobId).max(MAX_SYNC_IDS),
    /** Present on the last message of a full sync: every live job of the owner; the holder drops the rest. */
    ids: z.array(jobId).max(MAX_SYNC_IDS).optional(),
  }),
  z.strictObject({ op: z.literal('forget') }),
  z.strictObject({ op: z.literal('outcome'), owner: peer, outcomes: z.array(JobOutcome).max(MAX_RECORDS_PER_PUSH) }),
  z.strictObject({ op: z.literal('query') }),
  z.strictObject({ op: z.literal('lookup'), owner: peer, jobId, hops: z.number().int().min(0).max(2) }),
  z.strictObject({ op: z.literal('drain'), cancel: z.boolean() }),
]);
export type RecoveryRequest = z.output<typeof RecoveryRequestSchema>;

const FenceNoticeSchema = z.strictObject({ jobId, host: peer, epoch: z.number().int().min(1) });
const PushAnswer = z.strictObject({ fence: z.array(FenceNoticeSchema).max(MAX_SYNC_IDS) });
const QueryAnswer = z.strictObject({ outcomes: z.array(JobOutcome).max(MAX_SYNC_IDS) });
const LookupAnswer = z.strictObject({ record: JobRecordSchema.nullable() });
const DrainAnswer = z.record(z.string(), z.unknown());

export function decodeRecoveryRequest(data: Uint8Array): RecoveryRequest {
  try {
    return RecoveryRequestSchema.parse(unpack(data));
  } catch (err) {
    throw new ShoalError('RECOVERY_BAD_REQUEST', `bad recovery request: ${errorMessage(err)}`);
  }
}

export function encodeAnswer(value: unknown): Uint8Array {
  return pack(value);
}

/** The requesting side. Every call is bounded by `timeoutMs` and fails with the transport's error. */
export class RecoveryClient {
  private readonly transport: Transport;
  private readonly timeoutMs: number;

  constructor(transport: Transport, timeoutMs: number) {
    this.transport = transport;
    this.timeoutMs = timeoutMs;
  }

  async push(to: PeerIdStr, req: Extract<RecoveryRequest, { op: 'push' }>): Promise<FenceNotice[]> {
    return PushAnswer.parse(await this.call(to, req)).fence;
  }

  async forget(to: PeerIdStr): Promise<void> {
    await this.call(to, { op: 'forget' });
  }

  async outcome(to: PeerIdStr, owner: PeerIdStr, outcomes: { jobId: string; outcome: ReplicaOutcome }[]): Promise<void> {
    await this.call(to, { op: 'outcome', owner, outcomes });
  }

  async query(to: PeerIdStr): Promise<{ jobId: string; outcome: ReplicaOutcome }[]> {
    return QueryAnswer.parse(await this.call(to, { op: 'query' })).outcomes;
  }

  async lookup(to: PeerIdStr, owner: PeerIdStr, id: string, hops: number): Promise<JobRecord | null> {
    return LookupAnswer.parse(await this.call(to, { op: 'lookup', owner, jobId: id, hops })).record as JobRecord | null;
  }

  async drain(to: PeerIdStr, cancel: boolean, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return DrainAnswer.parse(await this.call(to, { op: 'drain', cancel }, signal));
  }

  private async call(to: PeerIdStr, req: RecoveryRequest, signal?: AbortSignal): Promise<unknown> {
    return unpack(await this.transport.request(to, RECOVERY_PROTOCOL, pack(req), { timeoutMs: this.timeoutMs, signal }));
  }
}
