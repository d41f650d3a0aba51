import assert from 'node:assert/strict';
import { ShoalClient } from '../../../src/cli/client.ts';
import { cli, curl, stopAllAgents, type AgentProcess } from '../../helpers/agent-process.ts';
import { members, startCluster, type TestCluster } from '../../helpers/cluster.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const SIZE = 10;
const HOST = { vcpus: 8, memoryMiB: 16384, diskGiB: 100 };

interface Job {
  id: string;
  host: string;
  spec: { idempotencyKey: string; antiAffinityGroup?: string; resources: { vcpus: number; memoryMiB: number } };
  state: string;
  desired: string;
}

async function converged(cluster: TestCluster): Promise<void> {
  await waitFor(
    () =>
      cluster.agents.every((a) => {
        const cells = curl(a.socket, 'GET', '/v1/agent/cells').body as { members: number }[];
        return members(a).filter((m) => m.status === 'alive').length === 5 && cells.length === 2 && cells.every((c) => c.members === 5);
      }),
    { timeoutMs: 60_000, what: 'the 10-agent cluster to converge (2 cells of 5)' },
  );
}

/** Every agent sees each cell-mate, and each cell's summary, with all of its allocatable vCPUs free. */
async function knownEmpty(cluster: TestCluster): Promise<void> {
  const allocatable = new Map<string, number>();
  const cellVcpus = new Map<number, number>();
  for (const a of cluster.agents) {
    const self = curl(a.socket, 'GET', '/v1/agent/self').body as { id: string; cell: number; capacity: { allocatable: { vcpus: number } } };
    allocatable.set(self.id, self.capacity.allocatable.vcpus);
    cellVcpus.set(self.cell, (cellVcpus.get(self.cell) ?? 0) + self.capacity.allocatable.vcpus);
  }
  await waitFor(
    () =>
      cluster.agents.every((a) => {
        const cells = curl(a.socket, 'GET', '/v1/agent/cells').body as { cell: number; free: { vcpus: number } }[];
        return members(a).every((m) => m.free.vcpus === allocatable.get(m.id)) && cells.every((c) => c.free.vcpus === cellVcpus.get(c.cell));
      }),
    { timeoutMs: 50_000, what: 'every agent to see every host empty again' },
  );
}

function clusterJobs(agent: AgentProcess): Job[] {
  const r = curl(agent.socket, 'GET', '/v1/jobs?cluster=true');
  assert.equal(r.status, 200, r.raw);
  return (r.body as Job[]).filter((j) => j.desired !== 'deleted');
}

/** The cluster listing, asked again while a host or cell is missing from it (a loaded host can miss the 5-s answer deadline). */
async function completeClusterJobs(agent: AgentProcess): Promise<Job[]> {
  const client = new ShoalClient({ address: agent.address, timeoutMs: 60_000 });
  try {
    const missing: string[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const { data, headers } = await client.call<Job[]>('GET', '/v1/jobs?cluster=true');
      if (headers['shoal-missing'] === '0') return data.filter((j) => j.desired !== 'deleted');
      missing.push(String(headers['shoal-missing']));
    }
    assert.fail(`the cluster listing stayed incomplete over 5 tries (missing: ${missing.join(', ')})`);
  } finally {
    await client.close();
  }
}

describe('decentralized placement on 10 real agents (2 cells)', function () {
  let cluster: TestCluster;

  before(async function () {
    this.timeout(180_000);
    cluster = await startCluster({ size: SIZE, cellBits: 1, cellOf: (i) => i % 2, capacity: HOST });
    await converged(cluster);
  });
  after(() => stopAllAgents());
  // Each test starts from an empty cluster that every agent knows is empty: a router still
  // holding a host's full record from the last test would pass it over.
  beforeEach(async function () {
    this.timeout(60_000);
    await knownEmpty(cluster);
  });
  afterEach(() => {
    for (const j of clusterJobs(cluster.agents[0]!)) curl(cluster.agents[0]!.socket, 'DELETE', `/v1/jobs/${j.id}`);
  });

  it('every agent submitting at once until nearly full: no overcommit, no duplicate, every refusal has a reason', async function () {
    this.timeout(180_000);
    const clients = cluster.agents.map((a) => new ShoalClient({ address: a.address, timeoutMs: 30_000 }));
    // 10 hosts × 8 vCPUs = 80; ask for 100 one-vCPU jobs so the cluster fills and some are refused.
    const outcomes: { key: string; status: number; body: unknown }[] = [];
    await Promise.all(
      clients.map(async (client, i) => {
        for (let k = 0; k < 10; k++) {
          const key = `fill-${i}-${k}`;
          try {
            const { status, data } = await client.call('POST', '/v1/jobs', { name: 'fill', kind: 'vm', resources: { vcpus: 1, memoryMiB: 512 }, idempotencyKey: key });
            outcomes.push({ key, status, body: data });
          } catch (err) {
            const e = err as { status?: number; code?: string; message: string; details?: unknown };
            outcomes.push({ key, status: e.status ?? 0, body: { code: e.code, message: e.message, details: e.details } });
          }
        }
      }),
    );
    await Promise.all(clients.map((c) => c.close()));

    const placed = outcomes.filter((o) => o.status === 201);
    const refused = outcomes.filter((o) => o.status !== 201);
    console.log(`      ${placed.length} placed, ${refused.length} refused`);
    for (const r of refused.slice(0, 40)) console.log(`        ${r.key} ${r.status} ${(r.body as { code: string }).code}: ${(r.body as { message: string }).message}`);
    assert.ok(placed.length >= 72, `the cluster should fill to at least 90% (72 of 80 vCPUs), placed ${placed.length}`);
    for (const r of refused) {
      const body = r.body as { code: string; message: string; details: { reasons?: Record<string, number> } };
      assert.ok(r.status === 422 || r.status === 503 || r.status === 504, `refusal of ${r.key}: unexpected status ${r.status}`);
      assert.ok(body.message.length > 10, `refusal of ${r.key} must say why`);
      if (r.status === 422) assert.ok(Object.keys(body.details.reasons ?? {}).length > 0, `422 for ${r.key} must count its reasons: ${body.message}`);
    }

    const jobs = await completeClusterJobs(cluster.agents[0]!);
    const byKey = new Map<string, Job[]>();
    for (const j of jobs) byKey.set(j.spec.idempotencyKey, [...(byKey.get(j.spec.idempotencyKey) ?? []), j]);
    for (const [key, list] of byKey) {
      const live = list.filter((j) => j.state !== 'fenced');
      assert.equal(live.length, 1, `key ${key} has ${live.length} live jobs: ${JSON.stringify(list.map((j) => ({ id: j.id, host: j.host, state: j.state, epoch: (j as unknown as { epoch: number }).epoch, reason: (j as unknown as { reason?: string }).reason })))}`);
    }
    for (const p of placed) assert.ok(byKey.has(p.key), `job for ${p.key} was answered 201 and must exist in the cluster listing`);

    for (const a of cluster.agents) {
      const self = curl(a.socket, 'GET', '/v1/agent/self').body as { capacity: { allocatable: typeof HOST; reserved: typeof HOST } };
      assert.ok(self.capacity.reserved.vcpus <= self.capacity.allocatable.vcpus, `host overcommitted: ${JSON.stringify(self.capacity)}`);
      assert.ok(self.capacity.reserved.memoryMiB <= self.capacity.allocatable.memoryMiB);
    }
    // Stopping works from any agent.
    const one = jobs[0]!;
    assert.equal(curl(cluster.agents[3]!.socket, 'DELETE', `/v1/jobs/${one.id}`).status, 200, `stop ${one.id} from another agent`);
  });

  it('50 parallel creates in one anti-affinity group never share a host', async function () {
    this.timeout(120_000);
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const client = new ShoalClient({ address: cluster.agents[i % SIZE]!.address, timeoutMs: 30_000 });
        try {
          return await client.call<Job>('POST', '/v1/jobs', { name: `aa-${i}`, kind: 'vm', resources: { vcpus: 1, memoryMiB: 256 }, antiAffinityGroup: 'db' });
        } catch (err) {
          return { status: (err as { status: number }).status, data: undefined, err: err as Error };
        } finally {
          await client.close();
        }
      }),
    );
    const hosts = results.filter((r) => r.status === 201).map((r) => r.data!.host);
    console.log(`      ${hosts.length} placed on ${new Set(hosts).size} hosts`);
    if (hosts.length < SIZE) for (const r of results.filter((x) => x.status !== 201).slice(0, 5)) console.log(`        refused: ${'err' in r ? r.err!.message : r.status}`);
    assert.equal(new Set(hosts).size, hosts.length, `two jobs of one anti-affinity group share a host: ${hosts.join(', ')}`);
    assert.ok(hosts.length >= 8, `at least 8 of the 10 hosts should take one, got ${hosts.length}`);
    for (const r of results.filter((x) => x.status !== 201)) assert.ok('err' in r && /anti-affinity|no host|uncertain/.test(r.err!.message), `refusal must give a reason: ${'err' in r ? r.err!.message : ''}`);
  });

  it('the same idempotency key sent to two agents at once makes one job', async () => {
    const spec = { name: 'once', kind: 'vm', resources: { vcpus: 1, memoryMiB: 256 }, idempotencyKey: 'exactly-once' };
    const [a, b] = await Promise.all([0, 7].map(async (i) => {
      const client = new ShoalClient({ address: cluster.agents[i]!.address });
      try {
        return await client.call<Job>('POST', '/v1/jobs', spec);
      } finally {
        await client.close();
      }
    }));
    assert.equal(a!.data.id, b!.data.id, 'both agents answer with the same job');
    assert.deepEqual([a!.status, b!.status].sort(), [200, 201], 'one created it, the other found it');
    assert.equal((await completeClusterJobs(cluster.agents[4]!)).filter((j) => j.spec.idempotencyKey === 'exactly-once').length, 1);
  });

  it('shoal status ID works from any agent, and --cluster lists jobs on every host', () => {
    const created = curl(cluster.agents[2]!.socket, 'POST', '/v1/jobs', { name: 'findme', kind: 'vm', resources: { vcpus: 1, memoryMiB: 128 } });
    assert.equal(created.status, 201);
    for (const a of cluster.agents) {
      const r = cli(['status', created.body.id, '--json'], { address: a.address });
      assert.equal(r.code, 0, `status from ${a.socket}: ${r.stderr}`);
      assert.equal(JSON.parse(r.stdout).host, created.body.host);
    }
    const listing = cli(['jobs', '--cluster', '--json'], { address: cluster.agents[9]!.address });
    assert.ok((JSON.parse(listing.stdout) as Job[]).some((j) => j.id === created.body.id));
  });

  it('a job too large for any host gets 422 with counted reasons, exit 2 from the CLI', () => {
    const r = cli(['submit', '-'], { address: cluster.agents[1]!.address, input: JSON.stringify({ name: 'huge', kind: 'vm', resources: { vcpus: 1, memoryMiB: 65536 } }) });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /JOB_UNPLACEABLE: no host with 1 vCPU, 64 GiB memory free \(\d+ hosts? checked/);
  });

  it('a cluster listing says when a host did not answer: shoal-missing header, and a warning from the CLI', async function () {
    this.timeout(120_000);
    const victim = cluster.agents[8]!; // cell 0, with agents 0, 2, 4 and 6
    curl(cluster.agents[0]!.socket, 'POST', '/v1/jobs', { name: 'listed', kind: 'vm', resources: { vcpus: 1, memoryMiB: 256 }, idempotencyKey: 'listed' });
    victim.proc.kill('SIGSTOP'); // still alive in every view for a few seconds: the listing asks it, and it cannot answer
    try {
      const r = cli(['jobs', '--cluster'], { address: cluster.agents[2]!.address });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: the list is incomplete: 1 hosts or cells did not answer/, 'the CLI must warn about the frozen host');
    } finally {
      victim.proc.kill('SIGCONT');
    }
    await converged(cluster);
    const client = new ShoalClient({ address: cluster.agents[2]!.address, timeoutMs: 30_000 });
    try {
      const { headers, data } = await client.call<Job[]>('GET', '/v1/jobs?cluster=true');
      assert.equal(headers['shoal-missing'], '0', 'every host answers again after the thaw');
      assert.ok(data.some((j) => j.spec.idempotencyKey === 'listed'));
    } finally {
      await client.close();
    }
  });

  it('a target host frozen during admission: the request is retried elsewhere or reported, never silently lost', async function () {
    this.timeout(120_000);
    const victim = cluster.agents[6]!;
    const victimId = (curl(victim.socket, 'GET', '/v1/agent/self').body as { id: string }).id;
    victim.proc.kill('SIGSTOP'); // admissions to it now time out
    try {
      const results = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const client = new ShoalClient({ address: cluster.agents[i % 5]!.address, timeoutMs: 60_000 });
          try {
            const r = await client.call<Job>('POST', '/v1/jobs', { name: `frozen-${i}`, kind: 'vm', resources: { vcpus: 4, memoryMiB: 256 }, idempotencyKey: `frozen-${i}` });
            return { key: `frozen-${i}`, status: r.status, job: r.data, code: undefined };
          } catch (err) {
            return { key: `frozen-${i}`, status: (err as { status: number }).status, job: undefined, code: (err as { code: string }).code };
          } finally {
            await client.close();
          }
        }),
      );
      for (const r of results) {
        assert.ok(r.status === 201 || r.code, `${r.key}: every request gets an answer`);
        if (r.status === 201) assert.notEqual(r.job!.host, victimId, `${r.key} was answered placed on the frozen host`);
      }
      console.log(`      ${results.filter((r) => r.status === 201).length} placed elsewhere; others: ${results.filter((r) => r.status !== 201).map((r) => r.code).join(', ')}`);
    } finally {
      await victim.kill9();
    }
  });
});
