/**
 * `src/host`: what runs on one machine. Host facts and capacity, the hypervisor drivers
 * (qemu, libvirt, process, and a fake for tests and the simulator), the reconcile loop that
 * drives jobs toward their desired state, and usage metering.
 */
export type { Driver, DriverCallOptions, DriverJob, ExitInfo, HostLogger, Instance, InstanceStats, InstanceStatus, ProbeResult, StopOptions } from './driver.ts';
export { DRIVER_ERROR_CODES, DriverError, isDriverError, type DriverErrorCode } from './driver-errors.ts';
export { createDriver, defaultHostDriversOptions, openHostDrivers, type HostDrivers, type HostDriversModules, type HostDriversOptions } from './driver-registry.ts';
export { instrumentDriver, type DriverMetrics, type DriverOp } from './instrumented-driver.ts';
export { QemuDriver, defaultQemuDriverOptions, type QemuDriverOptions } from './qemu-driver.ts';
export { QmpClient, defaultQmpClientOptions, type QmpClientOptions, type QmpEvent, type QmpGreeting } from './qmp-client.ts';
export { LibvirtDriver, defaultLibvirtDriverOptions, type LibvirtDriverOptions } from './libvirt-driver.ts';
export { ProcessDriver, defaultProcessDriverOptions, type ProcessDriverOptions } from './process-driver.ts';
export { type LimitMode } from './process-limits.ts';
export { FakeDriver, defaultFakeDriverOptions, type FakeDriverOptions } from './fake-driver.ts';
export type { ImportCallback, ImportCandidate, JobPatch, JobRepository } from './job-repository.ts';
export { importedJobSpec, jobName } from './import-spec.ts';
export {
  RECONCILER_EVENT_TYPES,
  Reconciler,
  defaultReconcilerOptions,
  type PassReport,
  type ReconcilerEvent,
  type ReconcilerEventType,
  type ReconcilerMetrics,
  type ReconcilerModules,
  type ReconcilerOptions,
} from './reconciler.ts';
export { Metering, defaultMeteringOptions, type MeteringMetrics, type MeteringOptions, type UsageBucket, type UsageCursor, type UsageObservation, type UsageRepository } from './metering.ts';
export { summarizeUsage, usageToCsv, usageToJson, type UsageJson, type UsageQuery, type UsageRow } from './usage-export.ts';
export { InMemoryJobRepository, InMemoryUsageRepository } from './in-memory-repositories.ts';
export { HostFactsReader, probeKvm, type HostFacts } from './facts.ts';
export { allocatableCapacity, freeCapacity, physicalCapacity, sumResources, type CapacityPolicy, type OvercommitRatios } from './capacity.ts';
