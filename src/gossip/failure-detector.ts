import type { Millis } from '../core/clock.ts';
import type { Encoded } from '../core/protocol.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import { encodeAck, encodeNack, encodePing, encodePingReq } from './codec.ts';
import type { Awareness } from './suspicion.ts';

/**
 * SWIM probing on a ring. Every `probeIntervalMs` (× the local awareness factor) a member
 * pings each of its successors on the cell's hash ring. No ack within the ack timeout →
 * `indirectProbes` helpers are asked to ping it (ping-req) and relay the ack. No ack
 * within the indirect timeout either → the target is accused (GossipNode turns that into a
 * suspicion). A helper that gets no ack either answers with a nack (Lifeguard): a nack
 * shows our own network is fine, so only a probe that failed with NO nack at all raises our
 * awareness score (else every monitor of a dead host would slow down exactly when detection
 * matters). Lifeguard counts each missing nack, but in a 30% correlated failure half the
 * probes have a dead helper, and that stretched detection to 7 s at p99 in the simulator.
 * Each member is watched by its `monitors` predecessors, so a crash is noticed within one
 * interval plus the timeouts, deterministically, at 2 × monitors probe messages received
 * per interval.
 */
export interface FailureDetectorOptions {
  readonly probeIntervalMs: number;
  readonly ackTimeoutMs: number;
  readonly indirectProbes: number;
  readonly indirectTimeoutMs: number;
}

export interface ProbeHooks {
  send(to: PeerIdStr, payload: Encoded): void;
  /** An answer to a peer whose message just reached us: the link is there, nothing to dial. */
  reply(to: PeerIdStr, payload: Encoded): void;
  /** `target` answered neither directly nor through helpers. */
  accuse(target: PeerIdStr, now: Millis): void;
  /** Successors to probe this round (excluding self). */
  successors(): readonly PeerIdStr[];
  /** Up to `k` random members other than self and `target`, to ask for indirect probes. */
  helpers(target: PeerIdStr, k: number): readonly PeerIdStr[];
}

const DIRECT = 0;
const INDIRECT = 1;
const RELAY = 2;

interface Probe {
  phase: number;
  readonly target: PeerIdStr;
  deadlineMs: Millis;
  /** INDIRECT only: helpers asked and nacks received. */
  helpers: number;
  nacks: number;
  /** RELAY only: who asked, and the seq to ack them with. */
  readonly requester: PeerIdStr | null;
  readonly requesterSeq: number;
}

/** A helper nacks at this fraction of the indirect timeout (Lifeguard uses 80%). */
const NACK_FRACTION = 0.8;

/** Relays in flight for other members; beyond this, ping-reqs are dropped (each is one ping and one ack). */
export const MAX_RELAYS = 32;

export interface ProbeCounters {
  probesSent: number;
  indirectProbesSent: number;
  acksReceived: number;
  probesFailed: number;
  relaysDropped: number;
}

export class FailureDetector {
  private readonly opts: FailureDetectorOptions;
  private readonly rng: Rng;
  private readonly hooks: ProbeHooks;
  private readonly awareness: Awareness;
  private readonly probes = new Map<number, Probe>();
  // Small lists, not sets: a few successors each, and Set.clear allocates a new table every
  // round. In a 20k-host steady profile, these sets' upkeep was ~1,850 of the failure
  // detector's ~6,900 samples.
  /** Targets with a probe of ours in flight: at most one at a time per target. */
  private readonly probing: PeerIdStr[] = [];
  /** Targets probed in the current round. */
  private readonly roundTargets: PeerIdStr[] = [];
  private relays = 0;
  private seq: number;
  private nextRoundAtMs: Millis = Infinity;
  private nextDeadlineMs: Millis = Infinity;
  readonly counters: ProbeCounters = { probesSent: 0, indirectProbesSent: 0, acksReceived: 0, probesFailed: 0, relaysDropped: 0 };

  constructor(opts: FailureDetectorOptions, modules: { rng: Rng; hooks: ProbeHooks; awareness: Awareness }) {
    this.opts = opts;
    this.rng = modules.rng;
    this.hooks = modules.hooks;
    this.awareness = modules.awareness;
    // Random start so a forged or replayed ack has a 1-in-2^32 chance of matching.
    this.seq = this.rng.int(0x100000000);
  }

  start(now: Millis): void {
    // Random phase: members started together must not probe in lockstep.
    this.nextRoundAtMs = now + this.rng.next() * this.opts.probeIntervalMs;
  }

  stop(): void {
    this.nextRoundAtMs = Infinity;
    this.probes.clear();
    this.probing.length = 0;
    this.roundTargets.length = 0;
    this.relays = 0;
    this.nextDeadlineMs = Infinity;
  }

  nextTimerAtMs(): Millis {
    return this.nextRoundAtMs < this.nextDeadlineMs ? this.nextRoundAtMs : this.nextDeadlineMs;
  }

  get pendingRelays(): number {
    return this.relays;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  onTimer(now: Millis): void {
    if (this.nextDeadlineMs <= now) this.expire(now);
    if (this.nextRoundAtMs <= now) {
      this.roundTargets.length = 0;
      for (const target of this.hooks.successors()) this.probe(target, now);
      this.nextRoundAtMs = now + this.opts.probeIntervalMs * this.awareness.factor;
      this.recomputeDeadline();
    }
  }

  /**
   * Probes, now, the successors this round has not probed yet: after an accusation the ring
   * moves past the accused member, and the one behind it should not wait a whole interval
   * (in a correlated failure, a run of dead neighbours would cost one round per member).
   */
  probeNewSuccessors(now: Millis): void {
    if (this.nextRoundAtMs === Infinity) return;
    for (const target of this.hooks.successors()) if (!this.roundTargets.includes(target)) this.probe(target, now);
    this.recomputeDeadline();
  }

  private probe(target: PeerIdStr, now: Millis): void {
    if (!this.roundTargets.includes(target)) this.roundTargets.push(target);
    if (this.probing.includes(target)) return;
    const seq = this.nextSeq();
    this.probes.set(seq, { phase: DIRECT, target, deadlineMs: now + this.opts.ackTimeoutMs * this.awareness.factor, helpers: 0, nacks: 0, requester: null, requesterSeq: 0 });
    this.probing.push(target);
    this.counters.probesSent++;
    this.hooks.send(target, encodePing(seq));
  }

  private expire(now: Millis): void {
    const factor = this.awareness.factor;
    for (const [seq, p] of this.probes) {
      if (p.deadlineMs > now) continue;
      if (p.phase === DIRECT) {
        const helpers = this.hooks.helpers(p.target, this.opts.indirectProbes);
        if (helpers.length > 0) {
          p.phase = INDIRECT;
          p.deadlineMs = now + this.opts.indirectTimeoutMs * factor;
          p.helpers = helpers.length;
          const req = encodePingReq(seq, p.target);
          for (const h of helpers) {
            this.counters.indirectProbesSent++;
            this.hooks.send(h, req);
          }
          continue;
        }
      }
      this.probes.delete(seq);
      if (p.phase === RELAY) {
        this.relays--;
        this.hooks.reply(p.requester!, encodeNack(p.requesterSeq));
        continue;
      }
      removeFrom(this.probing, p.target);
      this.counters.probesFailed++;
      if (p.phase === DIRECT || p.nacks === 0) this.awareness.worse();
      this.hooks.accuse(p.target, now);
    }
    this.recomputeDeadline();
  }

  private recomputeDeadline(): void {
    let min = Infinity;
    for (const p of this.probes.values()) if (p.deadlineMs < min) min = p.deadlineMs;
    this.nextDeadlineMs = min;
  }

  onPing(from: PeerIdStr, seq: number): void {
    this.hooks.reply(from, encodeAck(seq));
  }

  onAck(seq: number): void {
    const p = this.probes.get(seq);
    if (!p) return; // late or unknown: harmless
    this.probes.delete(seq);
    if (p.phase === RELAY) {
      this.relays--;
      this.hooks.reply(p.requester!, encodeAck(p.requesterSeq));
    } else {
      removeFrom(this.probing, p.target);
      this.counters.acksReceived++;
      this.awareness.better();
    }
    this.recomputeDeadline();
  }

  /** A helper could not reach the target either: evidence that our own network works. */
  onNack(seq: number): void {
    const p = this.probes.get(seq);
    if (p && p.phase === INDIRECT) p.nacks++;
  }

  /** A member asks us to probe `target` on its behalf. */
  onPingReq(from: PeerIdStr, seq: number, target: PeerIdStr, now: Millis): void {
    if (this.relays >= MAX_RELAYS) {
      this.counters.relaysDropped++;
      return;
    }
    const mySeq = this.nextSeq();
    this.relays++;
    // Give up a little before the requester does, so our nack reaches it in time.
    const deadlineMs = now + NACK_FRACTION * this.opts.indirectTimeoutMs * this.awareness.factor;
    this.probes.set(mySeq, { phase: RELAY, target, deadlineMs, helpers: 0, nacks: 0, requester: from, requesterSeq: seq });
    this.hooks.send(target, encodePing(mySeq));
    this.recomputeDeadline();
  }

  /** Forget probes of a target that left the ring (failed, left, or moved to another cell). */
  forget(target: PeerIdStr): void {
    if (!removeFrom(this.probing, target)) return;
    for (const [seq, p] of this.probes) if (p.target === target && p.phase !== RELAY) this.probes.delete(seq);
    this.recomputeDeadline();
  }
}

/** Removes `x` from a list that holds it at most once; whether it was there. */
function removeFrom<T>(list: T[], x: T): boolean {
  const i = list.indexOf(x);
  if (i < 0) return false;
  list[i] = list[list.length - 1]!;
  list.pop();
  return true;
}
