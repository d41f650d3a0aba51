import type { DriverName } from '../core/job.ts';
import { isDriverError } from './driver-errors.ts';
import type { Driver, DriverCallOptions, DriverJob, ExitInfo, Instance, InstanceStats, InstanceStatus, ProbeResult, StopOptions } from './driver.ts';

/** Driver call metrics. Labels: driver name, operation, and outcome (`ok` or a DRIVER_* code): all small fixed sets. */
export interface DriverMetrics {
  callsTotal(driver: DriverName, op: DriverOp, outcome: string): void;
  callSeconds(driver: DriverName, op: DriverOp, seconds: number): void;
}

export type DriverOp = 'probe' | 'create' | 'start' | 'stop' | 'destroy' | 'list' | 'status' | 'stats' | 'lastExit';

/** Wraps a driver so every call is counted and timed; with null metrics the driver is returned as is. */
export function instrumentDriver(driver: Driver, metrics: DriverMetrics | null): Driver {
  if (!metrics) return driver;
  const timed = async <T>(op: DriverOp, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      const v = await fn();
      metrics.callsTotal(driver.name, op, 'ok');
      return v;
    } catch (err) {
      metrics.callsTotal(driver.name, op, isDriverError(err) ? err.code : 'UNKNOWN');
      throw err;
    } finally {
      metrics.callSeconds(driver.name, op, (performance.now() - t0) / 1000);
    }
  };
  const wrapped: Driver = {
    name: driver.name,
    probe: (o?: DriverCallOptions): Promise<ProbeResult> => timed('probe', () => driver.probe(o)),
    create: (job: DriverJob, o?: DriverCallOptions): Promise<{ ref: string }> => timed('create', () => driver.create(job, o)),
    start: (ref: string, o?: DriverCallOptions): Promise<void> => timed('start', () => driver.start(ref, o)),
    stop: (ref: string, s: StopOptions, o?: DriverCallOptions): Promise<void> => timed('stop', () => driver.stop(ref, s, o)),
    destroy: (ref: string, o?: DriverCallOptions): Promise<void> => timed('destroy', () => driver.destroy(ref, o)),
    list: (o?: DriverCallOptions): Promise<Instance[]> => timed('list', () => driver.list(o)),
    status: (ref: string, o?: DriverCallOptions): Promise<InstanceStatus> => timed('status', () => driver.status(ref, o)),
    stats: (ref: string, o?: DriverCallOptions): Promise<InstanceStats> => timed('stats', () => driver.stats(ref, o)),
  };
  const lastExit = driver.lastExit?.bind(driver);
  if (lastExit) wrapped.lastExit = (ref: string, o?: DriverCallOptions): Promise<ExitInfo | undefined> => timed('lastExit', () => lastExit(ref, o));
  return wrapped;
}
