/**
 * The Shoal simulator: the real src/gossip and src/placement code for every simulated host,
 * on a virtual clock, a network model and a gossipsub model. See README.md.
 */
export { createSimCommand, simAction, withOverrides, heapMbFor, type SimCommandOptions } from './cli.ts';
export { runScenario, registerHostModel, runFlatBaseline, worldOptionsFor, type RunOptions, type Progress, type FlatBaselineResult } from './run/run-scenario.ts';
export type { RunResult, Series } from './run/result.ts';
export type { HostModel, PlacementDriver, PlacementAudit, PlacementResult, RunHooks, CorruptInjection } from './run/host-model.ts';
export { loadScenarioFile, parseScenario, validateScenario } from './scenario/load.ts';
export { ScenarioSchema, type Scenario, type ScenarioEvent, type LoadSpec, type Assertion } from './scenario/schema.ts';
export { evaluateAssertions, formatAssertion, ASSERTION_OPS, type AssertionResult, type AssertionOp } from './scenario/assertions.ts';
export { World, defaultWorldOptions, type WorldOptions, type HostContext, type HostFactory } from './world/world.ts';
export { EventQueue } from './engine/event-queue.ts';
export { TraceHash } from './engine/trace-hash.ts';
export { NetworkModel, defaultNetworkOptions, LOST, type NetworkOptions } from './network/network-model.ts';
export { Topology, defaultTopologyOptions, type TopologyOptions } from './network/topology.ts';
export { GossipsubModel } from './overlay/gossipsub-model.ts';
export { defaultGossipsubModelOptions, type GossipsubModelOptions } from './overlay/gossipsub-options.ts';
export { SimNetwork, defaultSimNetworkOptions, type SimNetworkOptions } from './transport/sim-network.ts';
export { SimTransport } from './transport/sim-transport.ts';
export { ShoalHostModel } from './shoal/shoal-model.ts';
export { calibrate, defaultCalibrationOptions, type CalibrationOptions, type CalibrationResult } from './calibration/calibrate.ts';
export { runSweep, formatSweepTable, type SweepRow } from './sweep/run-sweep.ts';
export { parseSweepArg, expandGrid, type SweepAxis } from './sweep/grid.ts';
export { renderHtmlReport } from './report/html-report.ts';
export { VM_SHAPE_MIXES, HOST_SHAPE_MIXES } from './workload/shapes.ts';
