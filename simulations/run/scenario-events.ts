import type { Millis, PeerIdStr, ProtocolNode, Rng } from '../../src/core/index.ts';
import type { ScenarioEvent } from '../scenario/schema.ts';
import type { World } from '../world/world.ts';
import type { HostModel } from './host-model.ts';
import type { ConvergenceObserver, DetectionObserver } from './observers.ts';
import type { Truth } from './truth.ts';

/** What scenario events act on. */
export interface EventContext<N extends ProtocolNode> {
  readonly world: World<N>;
  readonly truth: Truth;
  readonly model: HostModel<N>;
  readonly rng: Rng;
  readonly detection: DetectionObserver;
  readonly convergence: ConvergenceObserver<N>;
  /** Seed peers for a (re)starting host. */
  seedsFor(host: number): PeerIdStr[];
  /** The cell bits most live hosts use (for the detection audit). */
  cellBits(): number;
  /** Next unused host index for joins. */
  nextJoinIndex(): number;
  log(line: string): void;
  /** Corruptions injected (for the result). */
  readonly corruptions: { atS: number; host: number; topic: string; decodeRejected: boolean; bit: number }[];
}

/** Crashes `h`; the caller counts its expected observers once every host of the same event is down. */
export function crashHost<N extends ProtocolNode>(ctx: EventContext<N>, h: number, now: Millis): boolean {
  if (!ctx.world.alive[h]) return false;
  ctx.world.crashHost(h, now);
  ctx.truth.wentDown(h, now, true);
  return true;
}

/** Crashes hosts together (one correlated failure), then counts who should notice each. */
function crashAll<N extends ProtocolNode>(ctx: EventContext<N>, hosts: readonly number[], now: Millis): number {
  const down: number[] = [];
  for (const h of hosts) if (crashHost(ctx, h, now)) down.push(h);
  const bits = ctx.cellBits();
  for (const h of down) ctx.detection.crashed(h, bits);
  return down.length;
}

export function leaveHost<N extends ProtocolNode>(ctx: EventContext<N>, h: number, now: Millis): void {
  if (!ctx.world.alive[h]) return;
  ctx.world.leaveHost(h, now);
  ctx.truth.wentDown(h, now, false);
}

export function startHost<N extends ProtocolNode>(ctx: EventContext<N>, h: number, now: Millis): void {
  if (ctx.world.alive[h]) return;
  const seeds = ctx.seedsFor(h);
  if (Number.isNaN(ctx.truth.startedAtMs[h]!) && Number.isNaN(ctx.truth.downAtMs[h]!)) ctx.world.startHost(h, now, seeds);
  else ctx.world.restartHost(h, now, seeds);
  ctx.truth.started(h, now);
}

function liveHosts<N extends ProtocolNode>(ctx: EventContext<N>): number[] {
  const out: number[] = [];
  for (let i = 0; i < ctx.world.hostCount; i++) if (ctx.world.alive[i]) out.push(i);
  return out;
}

/** Puts one scenario event on the world's clock. Disruptive ones open a convergence episode. */
export function scheduleEvent<N extends ProtocolNode>(ctx: EventContext<N>, ev: ScenarioEvent): void {
  const w = ctx.world;
  const atMs = ev.at_s * 1000;
  w.at(atMs, (now) => {
    switch (ev.action) {
      case 'crash-zone': {
        const zone = typeof ev.zone === 'number' ? ev.zone : w.topology.zoneIndex(ev.zone);
        if (zone < 0 || zone >= w.topology.zoneCount) throw new Error(`crash-zone: no zone ${String(ev.zone)} (zones: ${w.topology.zones.join(', ')})`);
        const n = crashAll(ctx, liveHosts(ctx).filter((h) => w.topology.zoneOf[h] === zone), now);
        ctx.log(`t=${ev.at_s}s crash-zone ${w.topology.zoneName(zone)}: ${n} hosts down`);
        ctx.convergence.disturbance(now, `crash-zone ${w.topology.zoneName(zone)}`);
        break;
      }
      case 'crash-fraction': {
        const live = liveHosts(ctx);
        const want = Math.round(ev.fraction * live.length);
        let n = 0;
        if (ev.by === 'random') {
          for (let i = live.length - 1; i > 0; i--) {
            const j = ctx.rng.int(i + 1);
            [live[i], live[j]] = [live[j]!, live[i]!];
          }
          n = crashAll(ctx, live.slice(0, want), now);
        } else {
          const groupOf = ev.by === 'zone' ? w.topology.zoneOf : w.topology.powerDomainOf;
          const groups = new Map<number, number[]>();
          for (const h of live) {
            const g = groupOf[h]!;
            let list = groups.get(g);
            if (list === undefined) groups.set(g, (list = []));
            list.push(h);
          }
          const keys = [...groups.keys()];
          for (let i = keys.length - 1; i > 0; i--) {
            const j = ctx.rng.int(i + 1);
            [keys[i], keys[j]] = [keys[j]!, keys[i]!];
          }
          const victims: number[] = [];
          for (const g of keys) {
            if (victims.length >= want) break;
            victims.push(...groups.get(g)!);
          }
          n = crashAll(ctx, victims, now);
        }
        ctx.log(`t=${ev.at_s}s crash-fraction ${ev.fraction} by ${ev.by}: ${n} of ${live.length} hosts down`);
        ctx.convergence.disturbance(now, `crash ${Math.round((100 * n) / live.length)}% by ${ev.by}`);
        break;
      }
      case 'leave': {
        const live = liveHosts(ctx);
        for (let i = 0; i < Math.min(ev.count, live.length); i++) {
          const j = i + ctx.rng.int(live.length - i);
          [live[i], live[j]] = [live[j]!, live[i]!];
          leaveHost(ctx, live[i]!, now);
        }
        ctx.log(`t=${ev.at_s}s leave: ${Math.min(ev.count, live.length)} hosts`);
        ctx.convergence.disturbance(now, `leave ${ev.count}`);
        break;
      }
      case 'restart': {
        const down: number[] = [];
        for (let i = 0; i < w.hostCount; i++) if (!w.alive[i] && Number.isFinite(ctx.truth.downAtMs[i]!)) down.push(i);
        down.forEach((h, k) => w.at(now + (k * 1000) / ev.rate_per_s, (t) => startHost(ctx, h, t)));
        ctx.log(`t=${ev.at_s}s restart: ${down.length} hosts at ${ev.rate_per_s}/s`);
        ctx.convergence.disturbance(now, `restart ${down.length}`);
        break;
      }
      case 'join-wave': {
        for (let k = 0; k < ev.count; k++) {
          const h = ctx.nextJoinIndex();
          if (h < 0) break;
          w.at(now + (k * 1000) / ev.rate_per_s, (t) => startHost(ctx, h, t));
        }
        ctx.log(`t=${ev.at_s}s join-wave: ${ev.count} hosts at ${ev.rate_per_s}/s`);
        ctx.convergence.disturbance(now, `join ${ev.count}`);
        break;
      }
      case 'partition': {
        const groups = new Int32Array(w.opts.hostCapacity);
        if (ev.by === 'zone') groups.set(w.topology.zoneOf);
        else if (ev.by === 'region') groups.set(w.topology.regionOf);
        else for (let i = 0; i < groups.length; i++) groups[i] = ctx.rng.next() < ev.fraction ? 1 : 0;
        w.setPartition(groups, now);
        ctx.log(`t=${ev.at_s}s partition by ${ev.by}`);
        ctx.convergence.disturbance(now, `partition by ${ev.by}`);
        break;
      }
      case 'heal':
        w.setPartition(null, now);
        ctx.log(`t=${ev.at_s}s heal`);
        ctx.convergence.disturbance(now, 'heal');
        break;
      case 'corrupt': {
        for (let k = 0; k < ev.count; k++) {
          w.at(now + k * 10, (t) => {
            const inj = ctx.model.injectCorrupt?.(t, ctx.rng, ev.topic_kind) ?? null;
            if (inj === null) ctx.log(`t=${(t / 1000).toFixed(2)}s corrupt: no ${ev.topic_kind} message to corrupt`);
            else ctx.corruptions.push({ atS: t / 1000, host: inj.host, topic: inj.topic, decodeRejected: inj.decodeRejected, bit: inj.bit });
          });
        }
        break;
      }
      case 'churn': {
        const endMs = now + ev.duration_s * 1000;
        const step = (t: Millis): void => {
          if (t >= endMs) return;
          const live = liveHosts(ctx);
          if (live.length > 1) {
            const h = live[ctx.rng.int(live.length)]!;
            if (ev.mode === 'crash') crashAll(ctx, [h], t);
            else leaveHost(ctx, h, t);
            const downMs = -Math.log(1 - ctx.rng.next()) * ev.down_s * 1000;
            w.at(t + downMs, (t2) => startHost(ctx, h, t2));
          }
          w.at(t + (-Math.log(1 - ctx.rng.next()) * 1000) / ev.rate_per_s, step);
        };
        step(now);
        ctx.log(`t=${ev.at_s}s churn: ${ev.rate_per_s}/s ${ev.mode} for ${ev.duration_s}s, down ~${ev.down_s}s`);
        ctx.convergence.disturbance(now, `churn ${ev.rate_per_s}/s`);
        break;
      }
      case 'capacity-drift': {
        const endMs = now + ev.duration_s * 1000;
        const drift = (t: Millis): void => {
          if (t >= endMs || ctx.model.driftCapacity === undefined) return;
          const live = liveHosts(ctx);
          const n = Math.round(ev.fraction_per_s * live.length);
          for (let k = 0; k < n; k++) {
            const h = live[ctx.rng.int(live.length)]!;
            const node = w.hosts[h];
            if (node !== null && node !== undefined) w.guard(h, 'driftCapacity', () => ctx.model.driftCapacity!(h, node, t, ctx.rng));
          }
          w.at(t + 1000, drift);
        };
        drift(now);
        break;
      }
    }
  });
}
