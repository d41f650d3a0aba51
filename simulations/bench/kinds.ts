import { runScenario } from '../run/run-scenario.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { ShoalHostModel } from '../shoal/shoal-model.ts';
import type { HostModel } from '../run/host-model.ts';
import type { ProtocolNode } from '../../src/core/index.ts';
import type { World } from '../world/world.ts';

/**
 * Per simulated second: publishes, first copies and duplicates per topic kind (diagnostics).
 *   node simulations/bench/kinds.ts SCENARIO NODES SECONDS [EVENTS_AT_S]
 * EVENTS_AT_S moves the scenario's events to that second (a failure inside a short run).
 */
const [file, nodes, seconds, eventsAtS] = process.argv.slice(2);
const s = loadScenarioFile(file!);
let model: ShoalHostModel | null = null;
let last: Record<string, number[]> = {};
let lastEv = 0;
runScenario(
  { ...s, nodes: Number(nodes), duration_s: Number(seconds), events: eventsAtS === undefined ? s.events : s.events.map((e) => ({ ...e, at_s: Number(eventsAtS) })) },
  {
    baselines: false,
    modelFactory: (sc) => (model = new ShoalHostModel(sc)) as unknown as HostModel<ProtocolNode>,
    onProgress: (p) => {
      const w = (model as unknown as { world: World }).world;
      const o = w.overlay;
      const parts: string[] = [];
      for (let i = 0; i < o.kindNames.length; i++) {
        const c = o.byKind[i]!;
        const k = o.kindNames[i]!;
        const prev = last[k] ?? [0, 0, 0];
        parts.push(`${k}: pub ${c.published - prev[0]!} first ${c.firstCopies - prev[1]!} dup ${c.duplicates - prev[2]!}`);
        last[k] = [c.published, c.firstCopies, c.duplicates];
      }
      process.stdout.write(`t=${p.simMs / 1000} ev ${p.events - lastEv} wall ${(p.wallMs / 1000).toFixed(1)} live ${p.liveHosts} direct ${w.directSent} | ${parts.join(' | ')}\n`);
      lastEv = p.events;
    },
  },
);
