/**
 * What the scenarios need from a cluster of real agents, so that Shoal and Serf are driven
 * and measured by the same code (`scenarios.ts`). Agent `i` runs in namespace `shb-<i>`
 * under the name `a<i>`.
 */

/** One entry of an agent's member list. `status` is the agent's own word for it. */
export interface MemberView {
  name: string;
  status: string;
}

/** Protocol-level counters an agent reports about itself (Shoal's metrics); Serf has none. */
export interface ProtocolCounters {
  /** Gossip messages received (first copies), requests and one-way messages served, and answers received. */
  messagesIn: number;
  messagesOut: number;
  payloadBytesIn: number;
  payloadBytesOut: number;
}

export interface AgentCluster {
  /** `shoal` or `serf`: names rows in the report. */
  readonly kind: string;
  readonly size: number;
  /** The status word meaning "declared dead". */
  readonly failedStatus: string;
  agentName(index: number): string;
  /**
   * Starts agent `index` and resolves once its API answers. With `joinSeed`, the agent is
   * told on its command line to join agent 0 (a restart); otherwise it starts alone.
   */
  start(index: number, opts: { joinSeed: boolean; signal?: AbortSignal }): Promise<void>;
  /** Asks a running agent to join agent `seed`. */
  join(index: number, seed: number): Promise<void>;
  members(index: number): Promise<MemberView[]>;
  protocolCounters(index: number): Promise<ProtocolCounters | null>;
  /** The agent's pid, or null when it is not running. */
  pid(index: number): number | null;
  isRunning(index: number): boolean;
  /** SIGKILL: no goodbye. */
  kill(index: number): void;
  /** SIGTERM (Shoal leaves gracefully on it; Serf just exits); resolves when the process has exited. */
  stop(index: number, timeoutMs: number): Promise<void>;
  /** Stops every agent (SIGKILL after a grace period) and releases clients. */
  shutdown(): Promise<void>;
}
