import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { newJobId, type DriverName, type JobRecord } from '../core/job.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import {
  Metering,
  Reconciler,
  defaultHostDriversOptions,
  defaultMeteringOptions,
  defaultReconcilerOptions,
  importedJobSpec,
  openHostDrivers,
  type HostDrivers,
  type ImportCandidate,
  type ProbeResult,
  type ReconcilerEvent,
  type UsageQuery,
  type UsageRepository,
  type UsageRow,
} from '../host/index.ts';
import type { HostMetrics } from '../metrics/host-metrics.ts';
import type { EventBus } from './event-bus.ts';
import { specDigest, type HostJobs } from './host-jobs.ts';

/**
 * What actually runs on this host: the probed hypervisor drivers, the reconcile loop that
 * drives every job toward its desired state (adopting what survived an agent restart,
 * importing what Shoal did not create when asked to), and usage metering fed by that loop.
 */

export interface WorkloadOptions {
  dataDir: string;
  self: PeerIdStr;
  drivers: readonly DriverName[];
  /** Turn instances no record knows (libvirt domains, QEMU with a QMP socket) into jobs, at start and on every pass. */
  importUnknown: boolean;
  /** Time between reconcile passes. */
  reconcileIntervalMs: number;
  /** Grace a guest or process gets on stop before it is forced. */
  stopGraceMs: number;
  /** Tenant that imported instances are billed to. */
  importTenant: string;
}

export const defaultWorkloadOptions: Omit<WorkloadOptions, 'dataDir' | 'self' | 'drivers'> = {
  importUnknown: false, // importing is the operator's decision (host.import_unknown)
  reconcileIntervalMs: defaultReconcilerOptions.intervalMs, // 5 s: a killed VM is noticed within seconds
  stopGraceMs: defaultReconcilerOptions.stopGraceMs, // 30 s: a guest OS shuts down cleanly, as libvirt-guests allows
  importTenant: 'default', // an imported VM has no owner yet; the operator relabels or bills it as the host's
};

export interface WorkloadModules {
  clock: Clock;
  /** Ids for imported jobs. */
  rng: Rng;
  jobs: HostJobs;
  events: EventBus;
  logger: Logger;
  /** Durable usage (the agent's level store). */
  usage: UsageRepository;
  metrics: HostMetrics | null;
}

export class Workload {
  private readonly opts: WorkloadOptions;
  private readonly modules: WorkloadModules;
  private readonly metering: Metering;
  private drivers: HostDrivers | undefined;
  private reconciler: Reconciler | undefined;

  constructor(opts: WorkloadOptions, modules: WorkloadModules) {
    this.opts = opts;
    this.modules = modules;
    this.metering = new Metering(defaultMeteringOptions, { repository: modules.usage, metrics: modules.metrics?.metering ?? null });
  }

  /** Probes the configured drivers; returns the ones this host can run. */
  async probe(): Promise<DriverName[]> {
    const log = this.modules.logger.child({ component: 'drivers' });
    this.drivers = await openHostDrivers(
      this.opts.drivers,
      { ...defaultHostDriversOptions, dataDir: this.opts.dataDir },
      { log, metrics: this.modules.metrics?.drivers ?? null, now: this.modules.clock.now },
    );
    for (const [name, probe] of Object.entries(this.drivers.probes)) {
      if (!probe.available) log.warn({ driver: name, reason: probe.reason }, 'driver unavailable; jobs needing it go to other hosts');
    }
    return [...this.drivers.available.keys()];
  }

  get probes(): Readonly<Partial<Record<DriverName, ProbeResult>>> {
    return this.drivers?.probes ?? {};
  }

  start(): void {
    if (!this.drivers) throw new Error('Workload.start before probe()');
    const { clock, jobs, events, logger, metrics } = this.modules;
    this.reconciler = new Reconciler(
      {
        ...defaultReconcilerOptions,
        dataDir: this.opts.dataDir,
        hostId: this.opts.self,
        importUnknown: this.opts.importUnknown,
        intervalMs: this.opts.reconcileIntervalMs,
        stopGraceMs: this.opts.stopGraceMs,
      },
      {
        clock,
        repository: jobs,
        drivers: this.drivers.available,
        onEvent: (ev: ReconcilerEvent) => {
          // HostJobs.adopt announces imports itself, with the job's name.
          if (ev.type !== 'imported') events.emit(`job.${ev.type}`, { ...ev });
        },
        importInstance: this.opts.importUnknown ? (c) => this.importInstance(c) : null,
        metering: this.metering,
        metrics: metrics?.reconciler ?? null,
        log: logger.child({ component: 'reconciler' }),
      },
    );
    this.reconciler.start();
  }

  /** A job was admitted or changed: reconcile now rather than at the next pass. */
  kick(): void {
    this.reconciler?.kick();
  }

  /** Metered usage, summed per job or per tenant; accurate to the last reconcile pass. */
  usage(query: UsageQuery): Promise<UsageRow[]> {
    return this.metering.report(query);
  }

  get usageBucketMs(): number {
    return this.metering.bucketMs;
  }

  async stop(): Promise<void> {
    await this.reconciler?.stop();
  }

  /**
   * An instance no record knows becomes a job of this host, in the state it is in: a running
   * VM is adopted as running (and holds capacity), a shut-off one stays stopped until asked.
   * The record is durable before the reconciler sees it, so the next pass adopts it rather
   * than offering it again.
   */
  private async importInstance(c: ImportCandidate): Promise<JobRecord | undefined> {
    if (c.driver === 'process' || c.driver === 'fake') return undefined; // only VMs exist outside Shoal
    const { clock, rng, jobs, logger } = this.modules;
    const spec = importedJobSpec(c, { tenant: this.opts.importTenant });
    const now = clock.now();
    // Always a fresh id, even for an instance that names a job (another agent's, or a lost store's): the
    // record finds it by driverRef, and whatever this agent creates for the job later is unmistakably its own.
    const id = newJobId(now, rng);
    const active = c.instance.state === 'running' || c.instance.state === 'paused';
    const job: JobRecord = {
      id,
      spec,
      specDigest: specDigest(spec),
      host: this.opts.self,
      driver: c.driver,
      driverRef: c.instance.ref,
      desired: active ? 'running' : 'stopped',
      state: active ? 'running' : 'stopped',
      epoch: 1,
      createdAtMs: now,
      updatedAtMs: now,
    };
    await jobs.adopt(job);
    logger.info({ jobId: id, driver: c.driver, ref: c.instance.ref, state: c.instance.state }, 'imported an instance Shoal did not create');
    return job;
  }
}
