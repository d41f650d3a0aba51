import type { JobSpec, Millis, ProtocolNode, Rng } from '../../src/core/index.ts';
import { Histogram } from '../metrics/histogram.ts';
import type { LoadSpec } from '../scenario/schema.ts';
import { VM_SHAPE_MIXES, pickWeighted } from '../workload/shapes.ts';
import { PLACEMENT_ERRORS, type PlacementErrorCode } from '../../src/placement/errors.ts';
import type { World } from '../world/world.ts';
import type { PlacementDriver, PlacementResult } from './host-model.ts';

/** A client retries an answer of 503 or 504 with the same idempotency key, as the API tells it to: up to this many more tries… */
const CLIENT_RETRIES = 3;
/** …this long apart. */
const CLIENT_RETRY_DELAY_MS = 1000;

function retryable(r: PlacementResult): boolean {
  if (r.type !== 'failed' || r.code === undefined || !(r.code in PLACEMENT_ERRORS)) return false;
  const status = PLACEMENT_ERRORS[r.code as PlacementErrorCode];
  return status === 503 || status === 504;
}

/**
 * Placement load: VM requests at a steady cluster-wide rate, each through a random entry
 * host, until the cluster reaches its target utilization. A small fraction is sent twice,
 * through two entry hosts with the same idempotency key, to check exactly-once across
 * entries. Latency is from submit at the entry to its answer, in virtual time.
 */
export class LoadGenerator {
  readonly latencyMs = new Histogram();
  /** Asks per request: index = asks (capped at the last bucket). */
  readonly asksHistogram = new Float64Array(17);
  submitted = 0;
  answered = 0;
  placed = 0;
  duplicatesAnswered = 0;
  refused = 0;
  failed = 0;
  /** Hosts asked beyond the first, summed over answered requests. */
  retries = 0;
  /** Client retries after a 503 or 504 answer (same key, same entry while it lives). */
  clientRetries = 0;
  /** Requests sent twice whose two answers named different jobs or hosts. */
  duplicateSubmitMismatches = 0;
  duplicateSubmits = 0;
  reservedVcpus = 0;
  firstSubmitMs = NaN;
  lastSubmitMs = NaN;
  lastAnswerMs = NaN;
  /** When utilization first reached the target (submissions pause there, and resume as jobs end). */
  stoppedAtMs = NaN;
  /** Requests submitted while utilization was within 5 points of the target, and their retries: "retries at 80% load". */
  atTargetRequests = 0;
  atTargetRetries = 0;
  /** Of those, the ones submitted after the target was first reached (the cluster held there, not filling), with their retries and refusals. */
  heldRequests = 0;
  heldRetries = 0;
  heldRefused = 0;
  released = 0;
  readonly refusalCodes = new Map<string, number>();
  private readonly spec: LoadSpec;
  private readonly world: World<ProtocolNode>;
  private readonly driver: PlacementDriver;
  private readonly rng: Rng;
  private readonly capacityVcpus: () => number;
  private entries: Int32Array | null = null;
  private seq = 0;
  private stopped = false;

  constructor(spec: LoadSpec, modules: { world: World<ProtocolNode>; driver: PlacementDriver; rng: Rng; capacityVcpus: () => number }) {
    this.spec = spec;
    this.world = modules.world;
    this.driver = modules.driver;
    this.rng = modules.rng;
    this.capacityVcpus = modules.capacityVcpus;
  }

  /** Schedules the load; ticks of 10 ms keep the rate smooth without one event per request. */
  schedule(endMs: Millis): void {
    const startMs = this.spec.start_s * 1000;
    const tickMs = 10;
    const perTick = (this.spec.rate_per_s * tickMs) / 1000;
    const maxEndMs = this.spec.max_duration_s > 0 ? startMs + this.spec.max_duration_s * 1000 : endMs;
    let carry = 0;
    const tick = (now: Millis): void => {
      if (this.stopped || now >= maxEndMs) return;
      const target = this.spec.target_utilization * this.capacityVcpus();
      if (this.reservedVcpus >= target) {
        if (Number.isNaN(this.stoppedAtMs)) this.stoppedAtMs = now;
        // Without departures the load is done; with them, wait for jobs to end and keep the cluster at the target.
        if (this.spec.lifetime_s === 0) {
          this.stopped = true;
          return;
        }
        carry = 0;
      } else {
        carry += perTick;
        while (carry >= 1) {
          carry -= 1;
          this.submitOne(now, this.reservedVcpus >= target - 0.05 * this.capacityVcpus());
        }
      }
      if (now + tickMs <= endMs) this.world.at(now + tickMs, tick);
    };
    this.world.at(startMs, tick);
  }

  private pickEntry(): number {
    const w = this.world;
    if (this.spec.entry_hosts > 0) {
      if (this.entries === null) {
        const picks = new Int32Array(Math.min(this.spec.entry_hosts, w.hostCount));
        for (let i = 0; i < picks.length; i++) picks[i] = this.rng.int(w.hostCount);
        this.entries = picks;
      }
      for (let tries = 0; tries < 8; tries++) {
        const h = this.entries[this.rng.int(this.entries.length)]!;
        if (w.alive[h]) return h;
      }
    }
    for (let tries = 0; tries < 32; tries++) {
      const h = this.rng.int(w.hostCount);
      if (w.alive[h]) return h;
    }
    return -1;
  }

  private submitOne(now: Millis, atTarget: boolean): void {
    const entry = this.pickEntry();
    if (entry < 0) return;
    const shape = pickWeighted(VM_SHAPE_MIXES[this.spec.shapes], this.rng).shape;
    const n = this.seq++;
    const spec: JobSpec = {
      name: `vm-${n}`,
      kind: 'vm',
      resources: shape,
      labels: {},
      constraints: { hostLabels: {} },
      preferences: [],
      policy: this.spec.policy,
      idempotencyKey: `sim-${n}`,
      tenant: 'default',
      evacuate: true,
      restart: 'on-failure',
    };
    if (Number.isNaN(this.firstSubmitMs)) this.firstSubmitMs = now;
    this.lastSubmitMs = now;
    this.submitted++;
    const twice = this.rng.next() < this.spec.duplicate_submit_fraction;
    const held = !Number.isNaN(this.stoppedAtMs);
    let first: PlacementResult | null = null;
    const onDone = (r: PlacementResult, at: Millis): void => {
      this.record(r, at - now, shape.vcpus, at);
      if (atTarget) {
        this.atTargetRequests++;
        this.atTargetRetries += retriesOf(r);
        if (held) {
          this.heldRequests++;
          this.heldRetries += retriesOf(r);
          if (r.type === 'refused') this.heldRefused++;
        }
      }
      if (r.type === 'placed' && r.duplicate !== true && this.spec.lifetime_s > 0 && r.host !== undefined && r.jobId !== undefined) {
        // Jobs end after an exponential lifetime: the host releases the reservation, as the agent does when a VM is deleted.
        const host = r.host;
        const jobId = r.jobId;
        const lifeMs = -Math.log(1 - this.rng.next()) * this.spec.lifetime_s * 1000;
        this.world.at(at + lifeMs, (t) => {
          if (this.driver.release(host, jobId, t)) {
            this.released++;
            this.reservedVcpus -= shape.vcpus;
          }
        });
      }
      if (!twice) return;
      if (first === null) first = r;
      else if (first.type === 'placed' && r.type === 'placed' && (first.jobId !== r.jobId || first.host !== r.host)) this.duplicateSubmitMismatches++;
    };
    this.submitWithRetries(entry, spec, now, onDone);
    if (twice) {
      let other = this.pickEntry();
      if (other === entry) other = this.pickEntry();
      if (other >= 0 && other !== entry) {
        this.duplicateSubmits++;
        this.submitWithRetries(other, spec, now, onDone);
      }
    }
  }

  private submitWithRetries(entry: number, spec: JobSpec, now: Millis, onDone: (r: PlacementResult, at: Millis) => void, tries = 0): void {
    this.driver.submit(entry, spec, now, (r, at) => {
      if (tries >= CLIENT_RETRIES || !retryable(r)) {
        onDone(r, at);
        return;
      }
      this.clientRetries++;
      this.world.at(at + CLIENT_RETRY_DELAY_MS, (t) => {
        const next = this.world.alive[entry] ? entry : this.pickEntry();
        if (next < 0) onDone(r, t);
        else this.submitWithRetries(next, spec, t, onDone, tries + 1);
      });
    });
  }

  private record(r: PlacementResult, latencyMs: number, vcpus: number, at: Millis): void {
    this.answered++;
    this.lastAnswerMs = at;
    this.latencyMs.add(latencyMs);
    this.retries += retriesOf(r);
    this.asksHistogram[Math.min(16, r.asks)]!++;
    if (r.type === 'placed') {
      if (r.duplicate) this.duplicatesAnswered++;
      else {
        this.placed++;
        this.reservedVcpus += vcpus;
      }
    } else {
      if (r.type === 'refused') this.refused++;
      else this.failed++;
      const code = r.code ?? r.type;
      this.refusalCodes.set(code, (this.refusalCodes.get(code) ?? 0) + 1);
    }
  }
}

/**
 * Hosts asked beyond the first. A request answered before any host was asked (no host fits,
 * the key's owner unreachable) has none; counting it as -1 made a 20k run's figure negative.
 */
function retriesOf(r: PlacementResult): number {
  return Math.max(0, r.asks - 1);
}
