import type { Logger } from 'pino';
import { Alarm } from '../core/alarm.ts';
import type { Clock } from '../core/clock.ts';
import { errorMessage, ShoalError } from '../core/errors.ts';
import type { JobSpec } from '../core/job.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr, Transport } from '../core/transport.ts';
import {
  OwnerRegistry,
  PlacementNode,
  decodePlacementMessage,
  encodePlacementMessage,
  type HostAdmission,
  type LocateOutcome,
  type PlacementMessage,
  type PlacementMetrics,
  type PlacementOptions,
  type PlacementView,
  type ReplaceTarget,
  type SubmitOutcome,
} from '../placement/index.ts';
import type { BindingStore } from '../store/binding-store.ts';

/**
 * Runs the sans-I/O PlacementNode over libp2p: its one-way msgpack messages go as requests
 * on their own protocol, whose empty answer is the acknowledgement (an unacknowledged one
 * makes the node try elsewhere, unlike gossip's direct messages, which need none); one
 * timer re-armed after every call; bindings persisted before the owner answers. The simulator drives the same node with its virtual network instead.
 */

export const PLACEMENT_PROTOCOL = '/shoal/placement/2.0.0';
const EMPTY = new Uint8Array(0);

export interface PlacementDriverOptions {
  placement: PlacementOptions;
  /** One-way sends not acknowledged within this count as failed (the node then tries elsewhere). */
  sendTimeoutMs: number;
  /** Sends in flight at once; beyond it a send fails at once rather than queueing without bound. */
  maxInFlightSends: number;
}

export interface PlacementDriverModules {
  transport: Transport;
  clock: Clock;
  rng: Rng;
  view: PlacementView;
  admission: HostAdmission | null;
  bindings: BindingStore;
  registry: OwnerRegistry;
  specDigest: (spec: JobSpec) => string;
  metrics: PlacementMetrics | null;
  logger: Logger;
}

export class PlacementDriver {
  readonly node: PlacementNode;
  private readonly opts: PlacementDriverOptions;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly alarm: Alarm;
  private inFlight = 0;
  private running = false;

  constructor(opts: PlacementDriverOptions, modules: PlacementDriverModules) {
    this.opts = opts;
    this.transport = modules.transport;
    this.clock = modules.clock;
    this.logger = modules.logger;
    this.alarm = new Alarm(modules.clock, () => this.after(() => this.node.onTimer(this.clock.now())));
    this.node = new PlacementNode(opts.placement, {
      view: modules.view,
      rng: modules.rng,
      outbox: { send: (to, msg, addrs) => this.send(to, msg, addrs) },
      admission: modules.admission,
      bindings: {
        save: (binding, done) => {
          modules.bindings.save(binding).then(
            () => this.after(() => done(null, this.clock.now())),
            (err: unknown) => this.after(() => done(err instanceof Error ? err : new Error(String(err)), this.clock.now())),
          );
        },
      },
      registry: modules.registry,
      specDigest: modules.specDigest,
      metrics: modules.metrics,
    });
  }

  start(): void {
    this.running = true;
    this.transport.handle(PLACEMENT_PROTOCOL, (from, data) => {
      let msg: PlacementMessage;
      try {
        msg = decodePlacementMessage(data, this.opts.placement.maxMessageBytes);
      } catch (err) {
        throw new ShoalError('PLACEMENT_BAD_MESSAGE', `placement message rejected: ${errorMessage(err)}`);
      }
      this.after(() => this.node.onMessage(from, msg, this.clock.now()));
      return EMPTY;
    });
  }

  stop(): void {
    this.running = false;
    this.alarm.cancel();
  }

  submit(spec: JobSpec): Promise<SubmitOutcome> {
    return new Promise((resolve) => this.after(() => this.node.submit(spec, this.clock.now(), resolve)));
  }

  /** Moves an existing job off `target.fromHost` through its key owner (evacuation, drain). */
  replace(spec: JobSpec, target: ReplaceTarget): Promise<SubmitOutcome> {
    return new Promise((resolve) => this.after(() => this.node.replace(spec, target, this.clock.now(), resolve)));
  }

  locate(jobId: string): Promise<LocateOutcome> {
    return new Promise((resolve) => this.after(() => this.node.locate(jobId, this.clock.now(), resolve)));
  }

  /** Runs a call into the node, then re-arms the one timer at its next deadline. */
  private after(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.logger.error({ err }, 'placement node threw');
    }
    this.rearm();
  }

  private rearm(): void {
    if (!this.running) return;
    this.alarm.setAt(this.node.nextTimerAtMs());
  }

  private send(to: PeerIdStr, msg: PlacementMessage, addrs?: readonly string[]): void {
    const bytes = encodePlacementMessage(msg, this.opts.placement.maxMessageBytes);
    const failed = (err: unknown): void => {
      this.logger.debug({ peer: to, type: msg.t, err: errorMessage(err) }, 'placement send failed');
      this.after(() => this.node.onSendFailed(to, msg, this.clock.now()));
    };
    if (this.inFlight >= this.opts.maxInFlightSends) {
      // Reported asynchronously: the node must not be re-entered from inside its own send.
      queueMicrotask(() => failed(new Error('too many placement sends in flight')));
      return;
    }
    this.inFlight++;
    void (async () => {
      try {
        if (addrs && addrs.length > 0 && !this.transport.connectedPeers().includes(to)) {
          await this.transport.dial(to, addrs, { signal: AbortSignal.timeout(this.opts.sendTimeoutMs) });
        }
        await this.transport.request(to, PLACEMENT_PROTOCOL, bytes, { timeoutMs: this.opts.sendTimeoutMs });
      } catch (err) {
        failed(err);
      } finally {
        this.inFlight--;
      }
    })();
  }
}
