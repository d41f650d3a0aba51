import type { Millis, Rng } from '../../src/core/index.ts';
import type { HostModel } from '../run/host-model.ts';
import type { Truth } from '../run/truth.ts';
import { HOST_SHAPE_MIXES, hostCapacity } from '../workload/shapes.ts';
import { initialHostRecord } from '../workload/host-records.ts';
import type { HostContext, World } from '../world/world.ts';
import { FLAT_TOPIC, FlatGossipNode, type FlatGossipOptions } from './flat-gossip-node.ts';

/** The naive flat-gossip baseline as a host model: one topic, everyone's full record. */
export class FlatHostModel implements HostModel<FlatGossipNode> {
  readonly protocol = 'flat';
  private readonly opts: FlatGossipOptions;
  private world: World<FlatGossipNode> | null = null;

  constructor(opts: FlatGossipOptions) {
    this.opts = opts;
  }

  topicKindOf(topic: string): string {
    return topic === FLAT_TOPIC ? 'flat' : 'other';
  }

  build(ctx: HostContext): FlatGossipNode {
    const topo = this.world!.topology;
    const record = initialHostRecord({
      index: ctx.index,
      self: ctx.self,
      incarnation: ctx.incarnation,
      zone: ctx.zone,
      rack: topo.rackOf[ctx.index]!,
      capacity: hostCapacity(HOST_SHAPE_MIXES.uniform[0]!, 2),
    });
    return new FlatGossipNode(this.opts, { rng: ctx.rng, outbox: ctx.outbox, record });
  }

  bind(world: World<FlatGossipNode>, _truth: Truth): void {
    this.world = world;
  }

  /** Correct when the host has a record of every live host (the baseline has no failure detection to check). */
  viewCorrect(host: number, node: FlatGossipNode, _nowMs: Millis, rng: Rng): boolean {
    const w = this.world!;
    if (!this.opts.keepState) return true;
    for (let k = 0; k < 32; k++) {
      const other = rng.int(w.hostCount);
      if (other !== host && w.alive[other] && !node.known.has(w.ids[other]!)) return false;
    }
    return true;
  }
}
