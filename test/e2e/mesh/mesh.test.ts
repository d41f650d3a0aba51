import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cellTopic, defaultGossipOptions, encodeRecord, type HostRecord } from '../../../src/gossip/index.ts';
import { Libp2pTransport } from '../../../src/net/index.ts';
import { cli, curl, startAgent, stopAllAgents, type AgentProcess } from '../../helpers/agent-process.ts';
import { agentToml, keyInCell, members, selfOf, startCluster, writeNetworkKey, type TestCluster } from '../../helpers/cluster.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const CELL_BITS = 2; // 4 cells of 3 agents
const SIZE = 12;
/** Bounds these tests hold the mesh to (the DESIGN targets are tighter: crash known ≤ 5 s at p99). */
const CONVERGE_MS = 60_000;
const CAPACITY_CHANGE_MS = 5_000;
const DETECT_MS = 10_000;
const LEAVE_MS = 3_000;

function cellsOf(agent: AgentProcess): { cell: number; members: number; free: { vcpus: number } }[] {
  const r = curl(agent.socket, 'GET', '/v1/agent/cells');
  return r.status === 200 ? r.body : [];
}

/** Sum of a counter's samples whose labels match, from the agent's /v1/metrics. */
function counter(agent: AgentProcess, name: string, labels: RegExp): number {
  const text = curl(agent.socket, 'GET', '/v1/metrics').raw;
  let total = 0;
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\d+)`, 'gm'))) if (labels.test(m[1]!)) total += Number(m[2]);
  return total;
}

const refusedCount = (agent: AgentProcess, reason: string): number => counter(agent, 'shoal_gossip_refused_total', new RegExp(`reason="${reason}"`));
const decodeFailures = (agent: AgentProcess): number => counter(agent, 'shoal_net_decode_failures_total', /kind="cell",action="reject"/);
const oversized = (agent: AgentProcess): number => counter(agent, 'shoal_net_messages_dropped_total', /reason="too_large"/);

function loopbackAddr(agent: AgentProcess): string {
  const self = curl(agent.socket, 'GET', '/v1/agent/self').body as { addrs: string[] };
  return self.addrs.find((a) => a.startsWith('/ip4/127.0.0.1/'))!;
}

describe('the mesh: 12 real agents on loopback in 4 cells', function () {
  let cluster: TestCluster;
  let cellOf: Map<string, number>;
  const agentsInCell = (cell: number): AgentProcess[] => cluster.agents.filter((_, i) => cellOf.get(cluster.ids[i]!) === cell);
  const idOf = (a: AgentProcess): string => cluster.ids[cluster.agents.indexOf(a)]!;

  before(async function () {
    this.timeout(120_000);
    cluster = await startCluster({ size: SIZE, cellBits: CELL_BITS, cellOf: (i) => i % 4 });
    cellOf = new Map(cluster.agents.map((a, i) => [cluster.ids[i]!, selfOf(a).cell]));
  });
  after(() => stopAllAgents());

  it('converges: every agent sees every host of its cell alive and the summary of every cell', async () => {
    const t0 = Date.now();
    await waitFor(
      () =>
        cluster.agents.every((a) => {
          const mine = cellOf.get(idOf(a))!;
          const expected = new Set(agentsInCell(mine).map(idOf));
          const alive = members(a).filter((m) => m.status === 'alive');
          const cells = cellsOf(a);
          return alive.length === expected.size && alive.every((m) => expected.has(m.id)) && cells.length === 4 && cells.every((c) => c.members === 3);
        }),
      { timeoutMs: CONVERGE_MS, what: 'every agent to see its 3 cell members alive and 4 cell summaries of 3 members' },
    );
    console.log(`      converged ${Date.now() - t0} ms after the last agent started`);
    assert.deepEqual([...new Set(cellOf.values())].sort(), [0, 1, 2, 3], 'agents spread over 4 cells');
  });

  it('spreads a capacity change to the host cell within the bound, and to every summary', async () => {
    const entry = cluster.agents[5]!;
    const r = curl(entry.socket, 'POST', '/v1/jobs', { name: 'probe', kind: 'vm', resources: { vcpus: 16, memoryMiB: 1024 } });
    assert.equal(r.status, 201, r.raw);
    const host: string = r.body.host;
    const placedAt = Date.now();
    const cell = cellOf.get(host)!;
    await waitFor(() => agentsInCell(cell).every((a) => members(a).find((m) => m.id === host)?.free.vcpus === 0), {
      timeoutMs: CAPACITY_CHANGE_MS,
      what: `every agent of cell ${cell} to see host ${host} with 0 free vCPUs`,
    });
    console.log(`      host cell saw the change after ${Date.now() - placedAt} ms`);
    await waitFor(() => cluster.agents.every((a) => cellsOf(a).find((c) => c.cell === cell)?.free.vcpus === 32), {
      timeoutMs: 30_000,
      what: `every agent's summary of cell ${cell} to show 32 free vCPUs`,
    });
    console.log(`      every summary showed it after ${Date.now() - placedAt} ms`);
  });

  it('rejects garbage, oversized, forged and stale messages from a keyed peer, and views stay right', async () => {
    const target = cluster.agents[1]!;
    const cell = cellOf.get(idOf(target))!;
    const topic = cellTopic('test', CELL_BITS, cell);
    const rogue = await Libp2pTransport.create(
      // Its own limit is raised so it can send what the agents must refuse.
      { listenAddrs: ['/ip4/127.0.0.1/tcp/0'], gossip: { maxMessageBytes: 256 * 1024 } },
      // A keyed peer whose id falls in the target cell, so its own records are in scope there.
      { privateKey: await keyInCell(cell, CELL_BITS), swarmKey: readFileSync(cluster.keyFile), metrics: null },
    );
    try {
      await rogue.start();
      rogue.setTopicHandler(() => 'accept');
      rogue.subscribe(topic);
      for (const a of agentsInCell(cell)) await rogue.dialAddr(loopbackAddr(a));
      await waitFor(() => rogue.topicPeers(topic).length >= 3, { timeoutMs: 10_000, what: 'the rogue to see the cell topic subscribers' });
      const before = { garbage: decodeFailures(target), origin: refusedCount(target, 'GOSSIP_ORIGIN_MISMATCH'), stale: refusedCount(target, 'GOSSIP_STALE'), oversized: oversized(target) };

      rogue.publish(topic, new TextEncoder().encode('not a shoal message at all'));
      const victim = cluster.ids.find((id) => cellOf.get(id) === cell && id !== idOf(target))!;
      rogue.publish(topic, encodeRecord(fakeRecord(victim, 999)).bytes); // signed by the rogue, claims the victim
      rogue.publish(topic, encodeRecord(fakeRecord(rogue.self, 1, 5)).bytes);
      rogue.publish(topic, encodeRecord(fakeRecord(rogue.self, 1, 3)).bytes); // older than the one before
      rogue.publish(topic, new Uint8Array(70_000)); // over the 64 KiB message cap

      await waitFor(() => decodeFailures(target) > before.garbage, { timeoutMs: 10_000, what: 'the garbage to be rejected by the decoder' });
      await waitFor(() => refusedCount(target, 'GOSSIP_ORIGIN_MISMATCH') > before.origin, { timeoutMs: 10_000, what: 'the forged record to be rejected (origin ≠ signer)' });
      await waitFor(() => refusedCount(target, 'GOSSIP_STALE') > before.stale, { timeoutMs: 10_000, what: 'the stale record to be ignored' });
      await waitFor(() => oversized(target) > before.oversized, { timeoutMs: 10_000, what: 'the oversized message to be dropped' });
      const victimView = members(target).find((m) => m.id === victim)!;
      assert.notEqual(victimView.incarnation, 999, 'the forged incarnation must never be applied');
      assert.equal(victimView.status, 'alive');
      // The victim may hold the earlier test's probe job, so compare with its own word, not a constant.
      const victimSelf = members(cluster.agents[cluster.ids.indexOf(victim)]!).find((m) => m.id === victim)!;
      assert.deepEqual(victimView.free, victimSelf.free, "the victim's capacity is what it said itself");
    } finally {
      await rogue.stop();
    }
  });

  it('marks a kill -9ed agent failed everywhere in its cell within the bound, then sees it rejoin with a higher incarnation', async () => {
    const victim = agentsInCell(2)[0]!;
    const id = idOf(victim);
    const incarnation = selfOf(victim).incarnation;
    const mates = agentsInCell(2).filter((a) => a !== victim);
    await victim.kill9();
    const killedAt = Date.now();
    await waitFor(() => mates.every((a) => members(a).find((m) => m.id === id)?.status === 'failed'), { timeoutMs: DETECT_MS, what: `cell mates to mark ${id} failed` });
    console.log(`      kill -9 known to the whole cell after ${Date.now() - killedAt} ms`);

    await victim.restart();
    await waitFor(
      () => mates.every((a) => {
        const m = members(a).find((x) => x.id === id);
        return m?.status === 'alive' && m.incarnation > incarnation;
      }),
      { timeoutMs: 20_000, what: `${id} back alive with an incarnation above ${incarnation}` },
    );
  });

  it('marks an agent stopped with SIGTERM as left promptly', async () => {
    const leaver = agentsInCell(3)[0]!;
    const id = idOf(leaver);
    const mates = agentsInCell(3).filter((a) => a !== leaver);
    assert.equal(await leaver.stop(), 0, 'SIGTERM exits 0');
    const stoppedAt = Date.now();
    await waitFor(() => mates.every((a) => members(a).find((m) => m.id === id)?.status === 'left'), { timeoutMs: LEAVE_MS, what: `cell mates to mark ${id} left` });
    console.log(`      leave known to the cell after ${Date.now() - stoppedAt} ms`);
  });

  it('rejoins from its peer cache after a restart without any --join, and joins at runtime with shoal join', async () => {
    const agent = agentsInCell(1)[1]!;
    const id = idOf(agent);
    const incarnation = selfOf(agent).incarnation;
    const mates = agentsInCell(1).filter((a) => a !== agent);
    await agent.restart([], { args: [] }); // no bootstrap list: only what it cached
    await waitFor(
      () => mates.every((a) => {
        const m = members(a).find((x) => x.id === id);
        return m?.status === 'alive' && m.incarnation > incarnation;
      }),
      { timeoutMs: 20_000, what: `${id} back from its peer cache` },
    );

    // A fresh agent started alone joins at runtime through the CLI.
    const late = await startAgent({ configToml: agentToml({ size: 1, cellBits: CELL_BITS }, cluster.keyFile, 0) });
    const lateId = selfOf(late).id;
    const r = cli(['join', cluster.seedAddr], { address: late.address });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /joined 1 peer/);
    const lateCell = selfOf(late).cell;
    await waitFor(() => cluster.agents.filter((a) => a.proc.exitCode === null && selfOf(a).cell === lateCell).every((a) => members(a).some((m) => m.id === lateId && m.status === 'alive')), {
      timeoutMs: 20_000,
      what: 'the runtime-joined agent to be alive in its cell',
    });
    await late.stop();
  });

  it('keeps retrying a join address whose peer did not answer, and joins once it does', async function () {
    // The seed is frozen (SIGSTOP): the dial times out, as with a seed busy with a rack of joiners.
    // After it thaws, up to one whole maximum back-off may pass before the next try (a try that
    // timed out on a seed still catching up doubles it): it failed once at 40 s with a 100k
    // simulation on the other core, and passed in 12–14 s alone.
    const joinBudgetMs = defaultGossipOptions.joinRetryMaxMs + 30_000;
    this.timeout(joinBudgetMs + 60_000);
    const seed = agentsInCell(0)[0]!;
    const lonely = await startAgent({ configToml: agentToml({ size: 1, cellBits: CELL_BITS }, cluster.keyFile, 0) });
    const lonelyId = selfOf(lonely).id;
    const seedAddr = loopbackAddr(seed);
    seed.proc.kill('SIGSTOP');
    let r: ReturnType<typeof cli>;
    try {
      r = cli(['join', seedAddr], { address: lonely.address });
    } finally {
      seed.proc.kill('SIGCONT');
    }
    assert.equal(r.code, 1, `the join must fail while the seed is frozen: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr + r.stdout, /keeps retrying/);
    const lonelyCell = selfOf(lonely).cell;
    await waitFor(() => cluster.agents.filter((a) => a.proc.exitCode === null && selfOf(a).cell === lonelyCell).every((a) => members(a).some((m) => m.id === lonelyId && m.status === 'alive')), {
      timeoutMs: joinBudgetMs,
      what: 'the agent whose join failed to be alive in its cell once the seed answers again',
    });
    await lonely.stop();
  });

  it('keeps out an agent with a different network key: it cannot even connect', async () => {
    const outsider = await startAgent({ configToml: agentToml({ size: 1, cellBits: CELL_BITS }, writeNetworkKey(), 0), args: ['--join', cluster.seedAddr] });
    const outsiderId = selfOf(outsider).id;
    // Give it every chance to get in, then check nobody ever saw it.
    await waitFor(() => /could not reach some join addresses/.test(outsider.output()), { timeoutMs: 20_000, what: 'the outsider to report its failed join' });
    for (const a of cluster.agents.filter((x) => x.proc.exitCode === null)) {
      assert.ok(!members(a).some((m) => m.id === outsiderId), 'no member lists the outsider');
    }
    assert.deepEqual(members(outsider).map((m) => m.id), [outsiderId], 'the outsider sees only itself');
    const join = curl(outsider.socket, 'POST', '/v1/agent/join', { addrs: [cluster.seedAddr] });
    assert.equal(join.status, 502, 'a runtime join without the key fails');
    assert.equal(join.body.error.code, 'AGENT_JOIN_FAILED');
  });
});

function fakeRecord(origin: string, incarnation: number, seq = 1): HostRecord {
  return {
    origin,
    incarnation,
    seq,
    cluster: 'test',
    zone: 'default',
    labels: {},
    drivers: ['fake'],
    capacity: { vcpus: 64, memoryMiB: 1 << 20, diskGiB: 1000 },
    free: { vcpus: 64, memoryMiB: 1 << 20, diskGiB: 1000 },
    antiAffinityGroups: [],
    jobs: 0,
    health: 'ok',
    draining: false,
    addrs: [],
  };
}
