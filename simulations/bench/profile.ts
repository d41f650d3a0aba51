import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { runScenario } from '../run/run-scenario.ts';
import { loadScenarioFile } from '../scenario/load.ts';

/**
 * CPU profile of a window of a run, for finding hot spots in the engine or the protocol:
 *   node --max-old-space-size=11000 simulations/bench/profile.ts SCENARIO NODES SECONDS FROM_S TO_S OUT.cpuprofile
 * Prints wall time and events per simulated second; open OUT in Chrome DevTools or speedscope.
 */
const [file, nodes, seconds, fromS, toS, out] = process.argv.slice(2);
if (out === undefined) {
  process.stderr.write('usage: profile.ts SCENARIO NODES SECONDS FROM_S TO_S OUT.cpuprofile\n');
  process.exit(2);
}
const s = loadScenarioFile(file!);
const session = new Session();
session.connect();
let lastEvents = 0;
let lastWall = 0;
runScenario(
  { ...s, nodes: Number(nodes), duration_s: Number(seconds) },
  {
    baselines: false,
    onProgress: (p) => {
      const sec = p.simMs / 1000;
      // The inspector's session answers synchronously on the main thread, so the window is exact.
      if (sec === Number(fromS)) {
        session.post('Profiler.enable');
        session.post('Profiler.start');
      }
      if (sec === Number(toS)) session.post('Profiler.stop', (_err, res) => writeFileSync(out, JSON.stringify(res.profile)));
      process.stdout.write(`t=${sec} s: ${p.events - lastEvents} events in ${((p.wallMs - lastWall) / 1000).toFixed(2)} wall s, ${p.liveHosts} live, rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB\n`);
      lastEvents = p.events;
      lastWall = p.wallMs;
    },
  },
);
