/**
 * Decentralized placement: pure, synchronous and deterministic (Rng injected), shared by the
 * agent and the simulator. See README.md in this folder for the protocol.
 */
export { defaultPlacementOptions, placementOptions, type PlacementOptions } from './options.ts';
export { PLACEMENT_ERRORS, PlacementError, httpStatusOf, type PlacementErrorCode } from './errors.ts';
export { StaticPlacementView, type PlacementView } from './view.ts';
export { antiAffinityToken, demandOf, shapeIndexFor, type PlacementDemand, type Preference } from './demand.ts';
export {
  REFUSAL_REASONS,
  constraintRefusal,
  hostRefusal,
  pickDriver,
  resourceRefusal,
  type PlaceableHost,
  type RefusalReason,
} from './feasibility.ts';
export { RefusalTally, describeDemand, describeRefusal, formatResources, reasonText } from './refusals.ts';
export { fullnessAfter, hostScore, leftoverAfter, policyScore, preferenceScore } from './scoring.ts';
export { HostSelector, type SelectionContext } from './host-selection.ts';
export { bucketFits, bucketRefusal, cellWeight, chooseCell, pickContact, type CellChoice, type CellRoutingContext } from './cell-routing.ts';
export { ReservationOverlay } from './reservation-overlay.ts';
export {
  PLACEMENT_JOB_ID_LENGTH,
  PLACEMENT_JOB_ID_PATTERN,
  cellOfHash,
  keyCellIn,
  keyHashOf,
  keyHashOfJobId,
  placementJobId,
  rendezvousOwner,
  rendezvousWeight,
  routeToOwner,
  type OwnerRoute,
} from './key-ownership.ts';
export {
  HostLedger,
  codeForReason,
  type AdmitRequest,
  type AdmitResult,
  type HostProfile,
  type LedgerSnapshot,
  type Reservation,
} from './host-ledger.ts';
export { OwnerRegistry, type BeginReplaceResult, type BeginResult, type Binding, type BindingState, type RegistrySnapshot, type ReplaceRequest } from './owner-registry.ts';
export {
  PlacementAttempt,
  type Ask,
  type AttemptAnswer,
  type AttemptInit,
  type AttemptModules,
  type AttemptOutcome,
  type AttemptScope,
  type AttemptStep,
  type PlacementJob,
} from './placement-attempt.ts';
export { LedgerAdmission, type AdmissionLedger } from './ledger-admission.ts';
export {
  PlacementNode,
  type BindingPersistence,
  type HostAdmission,
  type PlacementNodeModules,
  type PlacementOutbox,
} from './placement-node.ts';
export * from './messages.ts';
export { decodePlacementMessage, encodePlacementMessage } from './codec.ts';
export { emptyPlacementStats, type CounterLike, type PlacementMetrics, type PlacementStats } from './metrics.ts';
export { placementSpecDigest } from './spec-digest.ts';
export { bestFitPack, type BestFitOptions, type BestFitResult } from './best-fit.ts';
export { TenantKeyMap } from './tenant-key-map.ts';
export { DeadlineQueue } from './deadline-queue.ts';
