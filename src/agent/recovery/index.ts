/** The agent's recovery: replication, evacuation, fencing and drain over libp2p and level (see src/placement/recovery/README.md). */
export { RecoveryService, defaultFenceCheckerOptions, defaultRecoveryServiceOptions, type RecoveryServiceModules, type RecoveryServiceOptions } from './recovery-service.ts';
export { DrainController, defaultDrainOptions, type DrainOptions, type DrainStatus } from './drain.ts';
export { FenceChecker, type FenceCheckerOptions } from './fence-checker.ts';
export { EvacuationRunner, type EvacuationRunnerOptions } from './evacuation-runner.ts';
export { Replicator, defaultReplicatorOptions, type ReplicatorOptions } from './replicator.ts';
export { ReplicaHolder } from './replica-holder.ts';
export { RECOVERY_PROTOCOL, RecoveryClient } from './protocol.ts';
export { createRecoveryMetrics, type AgentRecoveryMetrics } from './metrics.ts';
