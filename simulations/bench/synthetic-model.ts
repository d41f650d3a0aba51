import type { Millis, Rng } from '../../src/core/index.ts';
import type { HostModel } from '../run/host-model.ts';
import type { Scenario } from '../scenario/schema.ts';
import type { HostContext, World } from '../world/world.ts';
import { SyntheticNode } from './synthetic-node.ts';

/** Host model of the engine benchmark (protocol = "synthetic"): Shoal's traffic shape, no protocol work. */
export class SyntheticHostModel implements HostModel<SyntheticNode> {
  readonly protocol = 'synthetic';
  private readonly scenario: Scenario;
  constructor(scenario: Scenario) {
    this.scenario = scenario;
  }
  topicKindOf(topic: string): string {
    return topic.startsWith('bench/cell/') ? 'cell' : topic === 'bench/global' ? 'global' : 'other';
  }
  build(ctx: HostContext): SyntheticNode {
    const n = this.scenario.nodes;
    return new SyntheticNode(
      {
        cellBits: Math.max(0, Math.round(Math.log2(n / 48))),
        recordIntervalMs: 60_000,
        recordBytes: 160,
        probesPerSecond: 2,
        globalPerSecond: 0.5,
        globalBytes: 16_000,
        clusterSize: n,
      },
      { self: ctx.self, rng: ctx.rng, outbox: ctx.outbox },
    );
  }
  bind(_world: World<SyntheticNode>): void {}
  viewCorrect(_host: number, _node: SyntheticNode, _nowMs: Millis, _rng: Rng): boolean {
    return true;
  }
}
