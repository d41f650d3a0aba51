import type { Millis } from '../core/clock.ts';

/** An event for `GET /v1/events`: jobs, members, evacuations, drains, agent lifecycle. */
export interface AgentEvent {
  readonly seq: number;
  readonly atMs: Millis;
  /** Dotted, domain first: `job.accepted`, `job.state`, `member.failed`, `agent.reloaded`. */
  readonly type: string;
  readonly [field: string]: unknown;
}

export interface EventBusOptions {
  /** Events kept for `?since=` replays; older ones are dropped (a slow reader loses history, not memory). */
  historySize: number;
}

export const defaultEventBusOptions: EventBusOptions = { historySize: 1024 };

export type EventListener = (ev: AgentEvent) => void;

export class EventBus {
  private readonly history: AgentEvent[] = [];
  private readonly listeners = new Set<EventListener>();
  private readonly opts: EventBusOptions;
  private readonly now: () => Millis;
  private seq = 0;

  constructor(opts: EventBusOptions, modules: { now: () => Millis }) {
    this.opts = opts;
    this.now = modules.now;
  }

  emit(type: string, fields: Record<string, unknown> = {}): AgentEvent {
    const ev: AgentEvent = { ...fields, seq: ++this.seq, atMs: this.now(), type };
    this.history.push(ev);
    if (this.history.length > this.opts.historySize) this.history.shift();
    for (const listener of this.listeners) listener(ev);
    return ev;
  }

  /** Events after `seq` still in history, oldest first. */
  since(seq: number): AgentEvent[] {
    return this.history.filter((ev) => ev.seq > seq);
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get lastSeq(): number {
    return this.seq;
  }
}
