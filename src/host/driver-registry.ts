import type { Millis } from '../core/clock.ts';
import type { DriverName } from '../core/job.ts';
import type { Driver, HostLogger, ProbeResult } from './driver.ts';
import { FakeDriver, defaultFakeDriverOptions } from './fake-driver.ts';
import { instrumentDriver, type DriverMetrics } from './instrumented-driver.ts';
import { LibvirtDriver, defaultLibvirtDriverOptions, type LibvirtDriverOptions } from './libvirt-driver.ts';
import { ProcessDriver, defaultProcessDriverOptions, type ProcessDriverOptions } from './process-driver.ts';
import { QemuDriver, defaultQemuDriverOptions, type QemuDriverOptions } from './qemu-driver.ts';

/**
 * Builds the drivers named in the agent's config and probes each one, so the agent runs and
 * advertises only the drivers that work on this host (placement then never sends a job to
 * a host that cannot run it), and reports why the others do not.
 */

export interface HostDriversOptions {
  dataDir: string;
  qemu: Partial<Omit<QemuDriverOptions, 'dataDir'>>;
  libvirt: Partial<Omit<LibvirtDriverOptions, 'dataDir'>>;
  process: Partial<Omit<ProcessDriverOptions, 'dataDir'>>;
  /** Bound on each probe; a hung libvirtd must not hold up the agent's start. */
  probeTimeoutMs: number;
}

export const defaultHostDriversOptions: Omit<HostDriversOptions, 'dataDir'> = {
  qemu: {},
  libvirt: {},
  process: {},
  probeTimeoutMs: 10_000, // 10 s: probes run a few --version commands and one virsh call
};

export interface HostDriversModules {
  log: HostLogger | null;
  metrics: DriverMetrics | null;
  /** Wall clock for the fake driver (tests only). */
  now: () => Millis;
}

export interface HostDrivers {
  /** Drivers whose probe succeeded, in config order. */
  readonly available: ReadonlyMap<DriverName, Driver>;
  /** Every configured driver's probe result, for host facts and `shoal status`. */
  readonly probes: Readonly<Partial<Record<DriverName, ProbeResult>>>;
}

export function createDriver(name: DriverName, opts: HostDriversOptions, modules: HostDriversModules): Driver {
  const log = modules.log;
  switch (name) {
    case 'qemu':
      return new QemuDriver({ ...defaultQemuDriverOptions, ...opts.qemu, dataDir: opts.dataDir }, { log });
    case 'libvirt':
      return new LibvirtDriver({ ...defaultLibvirtDriverOptions, ...opts.libvirt, dataDir: opts.dataDir }, { log });
    case 'process':
      return new ProcessDriver({ ...defaultProcessDriverOptions, ...opts.process, dataDir: opts.dataDir }, { log });
    case 'fake':
      log?.warn({ driver: 'fake' }, 'the fake driver is configured: jobs will not really run (tests and simulations only)');
      return new FakeDriver(defaultFakeDriverOptions, { now: modules.now });
  }
}

export async function openHostDrivers(names: readonly DriverName[], opts: HostDriversOptions, modules: HostDriversModules): Promise<HostDrivers> {
  const available = new Map<DriverName, Driver>();
  const probes: Partial<Record<DriverName, ProbeResult>> = {};
  const results = await Promise.all(
    names.map(async (name) => {
      const driver = instrumentDriver(createDriver(name, opts, modules), modules.metrics);
      const probe = await driver.probe({ timeoutMs: opts.probeTimeoutMs }).catch((err: unknown): ProbeResult => ({ available: false, reason: (err as Error).message, details: {} }));
      return { name, driver, probe };
    }),
  );
  for (const { name, driver, probe } of results) {
    probes[name] = probe;
    if (probe.available) available.set(name, driver);
    else modules.log?.warn({ driver: name, reason: probe.reason }, 'driver unavailable on this host');
  }
  return { available, probes };
}
