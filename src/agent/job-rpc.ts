import { pack, unpack } from 'msgpackr';
import { z } from 'zod';
import { errorMessage, ShoalError } from '../core/errors.ts';
import type { JobRecord } from '../core/job.ts';
import type { PeerIdStr, Transport } from '../core/transport.ts';
import type { JobListing } from './job-service.ts';

/**
 * Job queries between agents: any agent answers `shoal status ID` by asking the host that
 * owns the job, and `--cluster` listings fan out over hosts. One request, one response.
 */

export const JOB_RPC_PROTOCOL = '/shoal/jobs/2.0.0';
/** A listing is bounded: a host's job records rarely exceed a few hundred KB. */
const MAX_RESPONSE_JOBS = 10_000;
/** A cell has at most a few hundred hosts; beyond this the answer says so in one line anyway. */
const MAX_RESPONSE_MISSING = 1_000;

const RequestSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('get'), id: z.string().min(1).max(128) }),
  z.strictObject({ op: z.literal('stop'), id: z.string().min(1).max(128) }),
  z.strictObject({ op: z.literal('list') }),
  /** The receiver lists every alive host of its own cell (a contact answering for its cell). */
  z.strictObject({ op: z.literal('list-cell') }),
  /** The addresses the receiver knows for a member of its cell: how an agent of another cell finds a job's host. */
  z.strictObject({ op: z.literal('whereis'), peer: z.string().min(1).max(128) }),
]);
type JobRequest = z.output<typeof RequestSchema>;

export interface LocalJobs {
  get(id: string): JobRecord | undefined;
  all(): JobRecord[];
  stop(id: string): Promise<JobRecord | undefined>;
}

export interface JobRpcService {
  jobs: LocalJobs;
  /** Lists the jobs of every alive host of this agent's cell. */
  listCell(): Promise<JobListing>;
  /** Dialable addresses of a member of this agent's cell, empty when unknown. */
  addrsOf(peer: PeerIdStr): readonly string[];
}

export function serveJobRpc(transport: Transport, service: JobRpcService): void {
  const { jobs } = service;
  transport.handle(JOB_RPC_PROTOCOL, async (_from, data) => {
    let req: JobRequest;
    try {
      req = RequestSchema.parse(unpack(data));
    } catch (err) {
      throw new ShoalError('JOB_RPC_BAD_REQUEST', `bad job request: ${errorMessage(err)}`);
    }
    switch (req.op) {
      case 'get':
        return pack({ job: jobs.get(req.id) ?? null });
      case 'stop':
        return pack({ job: (await jobs.stop(req.id)) ?? null });
      case 'list':
        return pack({ jobs: jobs.all().slice(0, MAX_RESPONSE_JOBS) });
      case 'list-cell': {
        const { jobs: all, missing } = await service.listCell();
        const cut = all.length > MAX_RESPONSE_JOBS ? [`${all.length - MAX_RESPONSE_JOBS} jobs over the answer's limit`] : [];
        return pack({ jobs: all.slice(0, MAX_RESPONSE_JOBS), missing: [...missing, ...cut].slice(0, MAX_RESPONSE_MISSING) });
      }
      case 'whereis':
        return pack({ addrs: service.addrsOf(req.peer) });
    }
  });
}

export class JobRpcClient {
  private readonly transport: Transport;
  private readonly timeoutMs: number;

  constructor(transport: Transport, timeoutMs: number) {
    this.transport = transport;
    this.timeoutMs = timeoutMs;
  }

  async get(peer: PeerIdStr, id: string, signal?: AbortSignal): Promise<JobRecord | undefined> {
    return ((await this.call(peer, { op: 'get', id }, signal)) as { job: JobRecord | null }).job ?? undefined;
  }

  async stop(peer: PeerIdStr, id: string, signal?: AbortSignal): Promise<JobRecord | undefined> {
    return ((await this.call(peer, { op: 'stop', id }, signal)) as { job: JobRecord | null }).job ?? undefined;
  }

  async list(peer: PeerIdStr, signal?: AbortSignal): Promise<JobRecord[]> {
    return ((await this.call(peer, { op: 'list' }, signal)) as { jobs: JobRecord[] }).jobs;
  }

  async listCell(peer: PeerIdStr, signal?: AbortSignal): Promise<JobListing> {
    const res = (await this.call(peer, { op: 'list-cell' }, signal)) as { jobs: JobRecord[]; missing?: string[] };
    return { jobs: res.jobs, missing: res.missing ?? [] };
  }

  async whereis(contact: PeerIdStr, peer: PeerIdStr, signal?: AbortSignal): Promise<string[]> {
    return ((await this.call(contact, { op: 'whereis', peer }, signal)) as { addrs: string[] }).addrs;
  }

  private async call(peer: PeerIdStr, req: JobRequest, signal?: AbortSignal): Promise<unknown> {
    return unpack(await this.transport.request(peer, JOB_RPC_PROTOCOL, pack(req), { timeoutMs: this.timeoutMs, signal }));
  }
}
