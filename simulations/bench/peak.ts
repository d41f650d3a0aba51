import { withOverrides } from '../cli.ts';
import { runScenario } from '../run/run-scenario.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { parseSweepArg } from '../sweep/grid.ts';
import { World } from '../world/world.ts';

/**
 * Per simulated second in a window: direct sends and topic publishes by message type (diagnostics).
 * `node simulations/bench/peak.ts SCENARIO NODES FROM_S TO_S [key=value …]` (the values as `--set` takes them).
 */
const [file, nodes, from, to, ...sets] = process.argv.slice(2);
const s = withOverrides(loadScenarioFile(file!), { set: sets.map(parseSweepArg) });
const counts = new Map<number, Map<string, number>>();
let now = 0;
const bump = (key: string): void => {
  const sec = Math.floor(now / 1000);
  if (sec < Number(from) || sec > Number(to)) return;
  const m = counts.get(sec) ?? new Map<string, number>();
  m.set(key, (m.get(key) ?? 0) + 1);
  counts.set(sec, m);
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const proto = World.prototype as unknown as Record<string, (...a: any[]) => unknown>;
const send = proto['sendFrom']!;
proto['sendFrom'] = function (this: { nowMs: number }, host: unknown, peer: unknown, payload: { msg: { type: string } }) {
  now = this.nowMs;
  bump(`d:${payload.msg.type}`);
  return send.call(this, host, peer, payload);
};
const pub = proto['publishFrom']!;
proto['publishFrom'] = function (this: { nowMs: number }, host: unknown, topic: string, payload: { msg: { type: string; full?: boolean } }) {
  now = this.nowMs;
  bump(`p:${payload.msg.type}${payload.msg.full ? '(full)' : ''}`);
  const m = payload.msg as unknown as { type: string; events?: { kind: string; confirmations: number; peer: string }[] };
  if (m.type === 'events') {
    for (const e of m.events!) bump(`e:${e.kind}/${e.confirmations}`);
  }
  return pub.call(this, host, topic, payload);
};
runScenario({ ...s, nodes: Number(nodes) }, { baselines: false });
for (const [sec, m] of [...counts].sort((a, b) => a[0] - b[0])) {
  console.log(sec, [...m].sort().map(([k, v]) => `${k}=${v}`).join(' '));
}
