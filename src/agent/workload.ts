import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { DriverName } from '../core/job.ts';
import type { PeerIdStr } from '../core/transport.ts';
import {
  Reconciler,
  defaultHostDriversOptions,
  defaultReconcilerOptions,
  openHostDrivers,
  type HostDrivers,
  type ProbeResult,
  type ReconcilerEvent,
} from '../host/index.ts';
import type { EventBus } from './event-bus.ts';
import type { HostJobs } from './host-jobs.ts';

/**
 * What actually runs on this host: the probed hypervisor drivers and the reconcile loop that
 * drives every job toward its desired state (adopting what survived an agent restart).
 */

export interface WorkloadOptions {
  dataDir: string;
  self: PeerIdStr;
  drivers: readonly DriverName[];
  importUnknown: boolean;
}

export interface WorkloadModules {
  clock: Clock;
  jobs: HostJobs;
  events: EventBus;
  logger: Logger;
}

export class Workload {
  private readonly opts: WorkloadOptions;
  private readonly modules: WorkloadModules;
  private drivers: HostDrivers | undefined;
  private reconciler: Reconciler | undefined;

  constructor(opts: WorkloadOptions, modules: WorkloadModules) {
    this.opts = opts;
    this.modules = modules;
  }

  /** Probes the configured drivers; returns the ones this host can run. */
  async probe(): Promise<DriverName[]> {
    const log = this.modules.logger.child({ component: 'drivers' });
    this.drivers = await openHostDrivers(this.opts.drivers, { ...defaultHostDriversOptions, dataDir: this.opts.dataDir }, { log, metrics: null, now: this.modules.clock.now });
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
    const { clock, jobs, events, logger } = this.modules;
    this.reconciler = new Reconciler(
      { ...defaultReconcilerOptions, dataDir: this.opts.dataDir, hostId: this.opts.self, importUnknown: this.opts.importUnknown },
      {
        clock,
        repository: jobs,
        drivers: this.drivers.available,
        onEvent: (ev: ReconcilerEvent) => events.emit(`job.${ev.type}`, { ...ev }),
        importInstance: null,
        metering: null,
        metrics: null,
        log: logger.child({ component: 'reconciler' }),
      },
    );
    this.reconciler.start();
  }

  /** A job was admitted or changed: reconcile now rather than at the next pass. */
  kick(): void {
    this.reconciler?.kick();
  }

  async stop(): Promise<void> {
    await this.reconciler?.stop();
  }
}
