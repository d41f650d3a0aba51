import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { EventBus } from '../agent/event-bus.ts';
import type { JobService } from '../agent/job-service.ts';
import type { ApiMetrics } from '../metrics/registry.ts';
import type { UsageQuery, UsageRow } from '../host/usage-export.ts';

/** What the agent exposes about itself; each method answers from memory, without I/O. */
export interface AgentInfo {
  self(): Record<string, unknown>;
  health(): { status: 'ok' | 'degraded' | 'stopping'; checks: Record<string, { ok: boolean; detail?: string }> };
  members(filter: { status?: string }): Record<string, unknown>[];
  /** Every known cell's summary. */
  cells(): Record<string, unknown>[];
  /** Gossip and placement counters for `shoal info`. */
  stats(): Record<string, unknown>;
}

/** Runtime actions on the agent (joining peers, draining); optional until the mesh runs. */
export interface AgentControl {
  join?(addrs: string[], opts: { signal?: AbortSignal }): Promise<{ joined: string[]; failed: { addr: string; error: string; retrying: boolean }[] }>;
  drain?(host: string, cancel: boolean, opts: { signal?: AbortSignal }): Promise<Record<string, unknown>>;
  /** Metered usage summed per job or per tenant (`GET /v1/usage`). */
  usage?(query: UsageQuery): Promise<readonly UsageRow[]>;
}

export interface ApiModules {
  jobs: JobService;
  info: AgentInfo;
  control: AgentControl;
  events: EventBus;
  registry: Registry;
  metrics: ApiMetrics | null;
  logger: Logger;
}
