/**
 * Recovery core: replica holders on the cell ring, the evacuation state machine, replica merge
 * rules and fencing decisions. Pure, synchronous and deterministic, shared by the agent
 * (`src/agent/recovery`) and the simulator. See README.md in this folder.
 */
export { defaultRecoveryOptions, recoveryOptions, type RecoveryOptions } from './options.ts';
export { evacuatorOf, isUp, replicaHolders, sameHolders } from './replica-ring.ts';
export { fenceVerdict, type FenceVerdict, type JobLocation, type LocalCopy } from './fencing.ts';
export {
  isReplicated,
  mergePushed,
  visibleRecord,
  wantsRunning,
  withOutcome,
  type FenceNotice,
  type ReplicaEntry,
  type ReplicaOutcome,
} from './replica.ts';
export {
  Evacuator,
  type EvacuationOutbox,
  type EvacuationReport,
  type EvacuatorModules,
  type ReplaceResult,
  type ReplicaJob,
  type ReplicaSource,
  type WatchStatus,
} from './evacuation.ts';
export { emptyRecoveryStats, type HistogramLike, type RecoveryMetrics, type RecoveryStats } from './metrics.ts';
export { replaceResultOf } from './replace-result.ts';
