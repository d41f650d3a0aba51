import { errorMessage, ShoalError } from '../core/errors.ts';
import { currentCopies, type JobRecord, type JobSpec } from '../core/job.ts';
import { hashPrefix } from '../core/hash.ts';
import type { PeerIdStr, Transport } from '../core/transport.ts';
import type { ClusterView } from '../gossip/index.ts';
import type { SubmitOutcome } from '../placement/index.ts';
import type { HostJobs } from './host-jobs.ts';
import type { JobDirectory, JobListing, PlacementOutcome, Placer } from './job-service.ts';
import type { JobRpcClient } from './job-rpc.ts';
import type { PlacementDriver } from './placement-driver.ts';
import type { FederatedJobs } from './federation/federated-jobs.ts';

/**
 * Jobs as the API sees them, wherever they run: submissions go through the placement
 * protocol, lookups to the owning host (found from the job id), listings fan out with a bound.
 */

export interface ClusterJobsOptions {
  /** Hosts asked at once by a cluster-wide listing. */
  listConcurrency: number;
  /** Hosts asked in total by a cluster-wide listing (the rest are reported as not asked). */
  maxListedHosts: number;
}

export const defaultClusterJobsOptions: ClusterJobsOptions = { listConcurrency: 16, maxListedHosts: 1024 };

export class ClusterJobs implements Placer, JobDirectory {
  private readonly opts: ClusterJobsOptions;
  private readonly self: PeerIdStr;
  private readonly local: HostJobs;
  private readonly placement: PlacementDriver;
  private readonly rpc: JobRpcClient;
  private readonly view: ClusterView;

  private readonly transport: Transport;
  /** Bursts to other clusters and `ID@cluster` lookups; null in a cluster that is not federated. */
  private readonly federation: FederatedJobs | null;

  constructor(
    opts: ClusterJobsOptions,
    modules: { self: PeerIdStr; local: HostJobs; placement: PlacementDriver; rpc: JobRpcClient; view: ClusterView; transport: Transport; federation?: FederatedJobs | null },
  ) {
    this.transport = modules.transport;
    this.federation = modules.federation ?? null;
    this.opts = opts;
    this.self = modules.self;
    this.local = modules.local;
    this.placement = modules.placement;
    this.rpc = modules.rpc;
    this.view = modules.view;
  }

  /** Places in this cluster, or through the federation when the spec or a local refusal calls for it. */
  async place(spec: JobSpec): Promise<PlacementOutcome> {
    if (this.federation !== null) return this.federation.place(spec, (s) => this.placeInCluster(s));
    return this.placeInCluster(spec);
  }

  /** Places in this cluster only: the gateway uses it for jobs other clusters send. */
  async placeInCluster(spec: JobSpec): Promise<PlacementOutcome> {
    const outcome = await this.placement.submit(spec);
    if (outcome.type === 'placed') {
      const job = (await this.fetch(outcome.host, outcome.jobId).catch(() => undefined)) ?? placedRecord(spec, outcome);
      return { job, created: !outcome.duplicate };
    }
    throw outcomeError(outcome);
  }

  /** `ID`, or `ID@cluster` anywhere in the federation. */
  async get(text: string, opts: { signal?: AbortSignal } = {}): Promise<JobRecord | undefined> {
    const { cluster, id } = this.federation?.resolve(text) ?? { cluster: undefined, id: text };
    if (cluster !== undefined) return this.federation!.get(cluster, id);
    return this.getInCluster(id, opts);
  }

  async getInCluster(id: string, opts: { signal?: AbortSignal } = {}): Promise<JobRecord | undefined> {
    const local = this.local.get(id);
    if (local) return local;
    const host = await this.locate(id);
    return host === undefined ? undefined : this.fetch(host, id, opts.signal);
  }

  async stop(text: string, opts: { signal?: AbortSignal } = {}): Promise<JobRecord | undefined> {
    const { cluster, id } = this.federation?.resolve(text) ?? { cluster: undefined, id: text };
    if (cluster !== undefined) return this.federation!.stop(cluster, id);
    return this.stopInCluster(id, opts);
  }

  async stopInCluster(id: string, opts: { signal?: AbortSignal } = {}): Promise<JobRecord | undefined> {
    if (this.local.get(id)) return this.local.stop(id);
    const host = await this.locate(id);
    if (host === undefined) return undefined;
    if (host === this.self) return this.local.stop(id);
    await this.reach(host, opts.signal);
    return this.rpc.stop(host, id, opts.signal);
  }

  /** This host's jobs; with `cluster`, every host's: own cell directly, other cells through one contact each. */
  async list(opts: { cluster?: boolean; signal?: AbortSignal } = {}): Promise<JobListing> {
    if (!opts.cluster) return { jobs: this.local.all(), missing: [] };
    const cells = [...this.view.cellSummaries()].filter((s) => s.cell !== this.view.ownCell && s.contacts.length > 0);
    const other = cells.slice(0, this.opts.maxListedHosts).map((s) => ({
      name: `cell ${s.cell}`,
      run: async (): Promise<JobListing> => {
        const contact = s.contacts[0]!;
        if (!this.transport.connectedPeers().includes(contact.peer)) await this.transport.dial(contact.peer, contact.addrs, { signal: opts.signal });
        return this.rpc.listCell(contact.peer, opts.signal);
      },
    }));
    const own = { name: `cell ${this.view.ownCell}`, run: () => this.listCell(opts.signal) };
    const listing = await listAll([own, ...other], cells.slice(this.opts.maxListedHosts).map((s) => `cell ${s.cell}`), this.opts.listConcurrency);
    // A moved job is listed by its old host too (fenced, older epoch): list the current copy.
    return { jobs: currentCopies(listing.jobs), missing: listing.missing };
  }

  /** Jobs of every alive host of this cell. A job re-placed elsewhere also sits, fenced, on its old host: keep the copy its host owns. */
  async listCell(signal?: AbortSignal): Promise<JobListing> {
    const hosts = [...this.view.cellMembers()].filter((m) => m.status === 'alive').map((m) => m.record.origin);
    if (!hosts.includes(this.self)) hosts.unshift(this.self);
    const asked = hosts.slice(0, this.opts.maxListedHosts).map((host) => ({
      name: host,
      run: async (): Promise<JobListing> => {
        const jobs = host === this.self ? this.local.all() : await this.reach(host, signal).then(() => this.rpc.list(host, signal));
        return { jobs: jobs.filter((j) => j.host === host), missing: [] };
      },
    }));
    return listAll(asked, hosts.slice(this.opts.maxListedHosts), this.opts.listConcurrency);
  }

  private async locate(id: string): Promise<PeerIdStr | undefined> {
    const outcome = await this.placement.locate(id);
    if (outcome.type === 'found') return outcome.host ?? undefined;
    if (outcome.type === 'not-found') return undefined;
    if (outcome.code === 'PLACEMENT_INVALID_JOB_ID') return undefined;
    throw new ShoalError(outcome.code, `could not locate job ${id}: ${outcome.message}`, { jobId: id });
  }

  /** Connects to a host outside our connections: own cell through gossip's record, another cell through one of its contacts. */
  private async reach(host: PeerIdStr, signal?: AbortSignal): Promise<void> {
    if (this.transport.connectedPeers().includes(host)) return;
    let addrs: readonly string[] = this.view.cellMember(host)?.record.addrs ?? [];
    if (addrs.length === 0) {
      const summary = this.view.cellSummary(hashPrefix(host, this.view.cellBits));
      const direct = summary?.contacts.find((c) => c.peer === host);
      if (direct) addrs = direct.addrs;
      else if (summary && summary.contacts.length > 0) {
        const contact = summary.contacts[0]!;
        if (!this.transport.connectedPeers().includes(contact.peer)) await this.transport.dial(contact.peer, contact.addrs, { signal });
        addrs = await this.rpc.whereis(contact.peer, host, signal);
      }
    }
    if (addrs.length > 0) await this.transport.dial(host, addrs, { signal });
  }

  private async fetch(host: PeerIdStr, id: string, signal?: AbortSignal): Promise<JobRecord | undefined> {
    if (host === this.self) return this.local.get(id);
    try {
      await this.reach(host, signal);
      return await this.rpc.get(host, id, signal);
    } catch (err) {
      throw new ShoalError('JOB_HOST_UNREACHABLE', `job ${id} is on host ${host}, which did not answer: ${errorMessage(err)}`, { jobId: id, host });
    }
  }
}

/** Runs the listings `limit` at a time; one that fails is named in `missing`, as are the `notAsked`. */
async function listAll(tasks: readonly { name: string; run: () => Promise<JobListing> }[], notAsked: readonly string[], limit: number): Promise<JobListing> {
  const jobs: JobRecord[] = [];
  const missing = [...notAsked];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next++]!;
      try {
        const part = await task.run();
        jobs.push(...part.jobs);
        missing.push(...part.missing);
      } catch {
        missing.push(task.name);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return { jobs, missing };
}

/** The record as placement reported it, when the host cannot be asked for its own copy. */
function placedRecord(spec: JobSpec, o: Extract<SubmitOutcome, { type: 'placed' }>): JobRecord {
  return { id: o.jobId, spec, specDigest: '', host: o.host, driver: o.driver, desired: 'running', state: 'placed', epoch: o.epoch, createdAtMs: 0, updatedAtMs: 0 };
}

function outcomeError(outcome: Exclude<SubmitOutcome, { type: 'placed' }>): ShoalError {
  if (outcome.type === 'refused') {
    return new ShoalError('JOB_UNPLACEABLE', outcome.message, {
      reasons: outcome.reasons,
      hostsChecked: outcome.checked,
      rejections: outcome.rejections,
      hostsRejected: outcome.rejected,
      asks: outcome.asks,
    });
  }
  if (outcome.code === 'PLACEMENT_IDEMPOTENCY_CONFLICT') return new ShoalError('JOB_IDEMPOTENCY_CONFLICT', outcome.message, { asks: outcome.asks });
  return new ShoalError(outcome.code, `placement failed: ${outcome.message}`, { asks: outcome.asks });
}
