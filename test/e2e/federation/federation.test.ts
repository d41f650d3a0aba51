import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { FEDERATION_PROTOCOL } from '../../../src/agent/federation/index.ts';
import { encodeFederationMessage } from '../../../src/federation/index.ts';
import { Libp2pTransport } from '../../../src/net/index.ts';
import { cli, curl, stopAllAgents, type AgentProcess } from '../../helpers/agent-process.ts';
import { members } from '../../helpers/cluster.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { federationStats, removeFederationKeys, startFederation, type FederatedCluster } from './helpers.ts';

/**
 * Three clusters of four real agents on loopback, each with its own network key and two
 * gateways. A's hosts are small (4 vCPUs), C's medium (8), B's large (16): a 10-vCPU job
 * from A can only run in B. B accepts jobs from A and C but not tenant acme, and caps
 * tenant metered at 10 vCPUs; C accepts only A.
 */

const BIG = { vcpus: 10, memoryMiB: 4096 };

interface Job {
  id: string;
  host: string;
  desired: string;
  state: string;
  spec: { tenant: string; labels: Record<string, string>; idempotencyKey: string };
}

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

function submit(agent: AgentProcess, body: Record<string, unknown>): { status: number; job: Job; error: ErrorBody['error'] } {
  const r = curl(agent.socket, 'POST', '/v1/jobs', { name: 'fed', kind: 'vm', ...body });
  return { status: r.status, job: r.body as Job, error: (r.body as ErrorBody).error };
}

/** Every gateway holds a fresh summary of both other clusters, showing all four hosts. */
async function federated(clusters: FederatedCluster[]): Promise<void> {
  for (const c of clusters) {
    for (let g = 0; g < c.spec.gateways; g++) {
      await waitFor(
        () => {
          const remotes = federationStats(c.agents[g]!)?.gateway?.remotes ?? [];
          return clusters.filter((o) => o !== c).every((o) => remotes.some((r) => r.cluster === o.spec.name && r.hosts === o.spec.size && r.buckets.reduce((n, b) => n + b.hosts, 0) === o.spec.size));
        },
        { timeoutMs: 90_000, what: `gateway ${g} of cluster ${c.spec.name} to hold summaries of the other clusters with all their hosts`, intervalMs: 500 },
      );
    }
  }
}

async function meshConverged(clusters: FederatedCluster[]): Promise<void> {
  for (const c of clusters) {
    for (const a of c.agents) {
      await waitFor(() => members(a).filter((m) => m.status === 'alive').length === c.spec.size, {
        timeoutMs: 60_000,
        what: `every agent of cluster ${c.spec.name} to see its ${c.spec.size} members alive`,
        intervalMs: 250,
      });
    }
  }
}

describe('federation: three clusters of 4 real agents with their own keys and 2 gateways each', function () {
  let a: FederatedCluster;
  let b: FederatedCluster;
  let c: FederatedCluster;
  let bigJob: Job;

  before(async function () {
    this.timeout(300_000);
    [a, b, c] = await startFederation([
      { name: 'a', size: 4, gateways: 2, region: 'eu', capacity: { vcpus: 4, memoryMiB: 8192, diskGiB: 100 }, policyToml: 'accept_clusters = ["*"]' },
      {
        name: 'b',
        size: 4,
        gateways: 2,
        region: 'eu',
        capacity: { vcpus: 16, memoryMiB: 65536, diskGiB: 200 },
        policyToml: ['accept_clusters = ["a", "c"]', 'deny_tenants = ["acme"]', '[federation.policy.tenants.metered]', 'max_vcpus = 10'].join('\n'),
      },
      { name: 'c', size: 4, gateways: 2, region: 'us', capacity: { vcpus: 8, memoryMiB: 16384, diskGiB: 100 }, policyToml: 'accept_clusters = ["a"]' },
    ]) as [FederatedCluster, FederatedCluster, FederatedCluster];
    await meshConverged([a, b, c]);
    await federated([a, b, c]);
  });
  after(async () => {
    await stopAllAgents();
    removeFederationKeys();
  });

  it('an agent of cluster A cannot join B\'s mesh', () => {
    const join = curl(a.agents[3]!.socket, 'POST', '/v1/agent/join', { addrs: [b.meshAddrs[0]] });
    assert.equal(join.status, 502, `joining another cluster's mesh must fail: ${join.raw}`);
    assert.equal((join.body as ErrorBody).error.code, 'AGENT_JOIN_FAILED');
    for (const agent of b.agents) {
      assert.ok(!members(agent).some((m) => a.ids.includes(m.id)), `no agent of A may appear among B's members (asked ${agent.socket})`);
    }
  });

  it('a gateway refuses a federation peer outside its allowlist', async function () {
    this.timeout(30_000);
    const stranger = await Libp2pTransport.create({ listenAddrs: ['/ip4/127.0.0.1/tcp/0'] }, { privateKey: await generateKeyPair('Ed25519'), swarmKey: null, metrics: null });
    await stranger.start();
    try {
      const target = b.federationAddrs[0]!;
      const peer = target.slice(target.lastIndexOf('/') + 1);
      const before = federationStats(b.agents[0]!)!.gateway!.stats.refusedPeers;
      let answered = false;
      try {
        await stranger.dial(peer, [target]);
        await stranger.request(peer, FEDERATION_PROTOCOL, encodeFederationMessage({ v: 1, op: 'get', id: 'x' }, 4096), { timeoutMs: 5_000 });
        answered = true;
      } catch {
        /* refused: hung up, or the handler said FEDERATION_NOT_ALLOWED */
      }
      assert.equal(answered, false, 'an unlisted identity must get no answer from a gateway');
      await waitFor(() => federationStats(b.agents[0]!)!.gateway!.stats.refusedPeers > before, { timeoutMs: 10_000, what: 'the gateway to count the refused peer' });
    } finally {
      await stranger.stop();
    }
  });

  it('cluster summaries cross between gateways; individual hosts do not', () => {
    const view = federationStats(a.agents[0]!)!.gateway!;
    const rb = view.remotes.find((r) => r.cluster === 'b')!;
    assert.equal(rb.region, 'eu');
    assert.equal(rb.acceptsUs, true, 'B accepts A');
    assert.equal(Math.max(...rb.buckets.map((x) => x.maxFree.vcpus)), 16, "B's summary shows its 16-vCPU hosts");
    const rc = federationStats(b.agents[0]!)!.gateway!.remotes.find((r) => r.cluster === 'c')!;
    assert.equal(rc.acceptsUs, false, 'C does not accept B, and tells B so in its summary');
    const text = JSON.stringify(view.remotes);
    for (const host of [...b.ids.slice(b.spec.gateways), ...c.ids.slice(c.spec.gateways)]) {
      assert.ok(!text.includes(host), `a remote summary must not name host ${host}`);
    }
  });

  it('a job too large for A runs in B, returned as ID@b', function () {
    this.timeout(60_000);
    const r = submit(a.agents[2]!, { resources: BIG, idempotencyKey: 'big-1' });
    assert.equal(r.status, 201, `the 10-vCPU job must burst to B: ${JSON.stringify(r.error ?? r.job)}`);
    bigJob = r.job;
    assert.match(bigJob.id, /^[0-9a-z]+@b$/, 'the job is addressed as ID@b');
    assert.ok(bigJob.host.endsWith('@b') && b.ids.includes(bigJob.host.slice(0, -2)), `its host is host@b, a host of B: ${bigJob.host}`);
    // B's own view: the job lives there, labelled with the cluster it came from.
    const local = curl(b.agents[3]!.socket, 'GET', `/v1/jobs/${bigJob.id.slice(0, -2)}`);
    assert.equal(local.status, 200, local.raw);
    assert.equal((local.body as Job).spec.labels['shoal.federation/origin'], 'a');
    assert.ok(!a.agents.some((agent) => (curl(agent.socket, 'GET', '/v1/jobs').body as Job[]).length > 0), 'nothing was placed in A');
  });

  it('the idempotency key is honoured across clusters', function () {
    this.timeout(60_000);
    const again = submit(a.agents[3]!, { resources: BIG, idempotencyKey: 'big-1' });
    assert.equal(again.status, 200, `the same key through another agent of A is the same job: ${JSON.stringify(again.error ?? again.job)}`);
    assert.equal(again.job.id, bigJob.id);
    const conflict = submit(a.agents[1]!, { resources: { vcpus: 11, memoryMiB: 4096 }, idempotencyKey: 'big-1' });
    assert.equal(conflict.status, 409, `the same key with another spec is a conflict: ${JSON.stringify(conflict.error)}`);
  });

  it('ID@b is resolvable from A (API and CLI) and from C', function () {
    this.timeout(60_000);
    const fromA = curl(a.agents[3]!.socket, 'GET', `/v1/jobs/${bigJob.id}`);
    assert.equal(fromA.status, 200, fromA.raw);
    assert.equal((fromA.body as Job).id, bigJob.id);
    const status = cli(['status', bigJob.id], { address: a.agents[1]!.address });
    assert.equal(status.code, 0, status.stderr);
    assert.ok(status.stdout.includes(bigJob.id) && status.stdout.includes(bigJob.host), `shoal status prints the global id and host: ${status.stdout}`);
    const fromC = curl(c.agents[2]!.socket, 'GET', `/v1/jobs/${bigJob.id}`);
    assert.equal(fromC.status, 200, fromC.raw);
    assert.equal((fromC.body as Job).id, bigJob.id);
    const unknown = curl(a.agents[2]!.socket, 'GET', `/v1/jobs/${bigJob.id.slice(0, -2)}@zz`);
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body as ErrorBody).error.code, 'FEDERATION_UNKNOWN_CLUSTER');
    const bad = curl(a.agents[2]!.socket, 'GET', `/v1/jobs/${bigJob.id.slice(0, -2)}@B`);
    assert.equal(bad.status, 400, bad.raw);
    assert.equal((bad.body as ErrorBody).error.code, 'FEDERATION_INVALID_ADDRESS');
    const own = curl(a.agents[2]!.socket, 'GET', `/v1/jobs/${bigJob.id.slice(0, -2)}@a`);
    assert.equal(own.status, 404, '@a is this cluster: looked up here, not found');
    assert.equal((own.body as ErrorBody).error.code, 'JOB_NOT_FOUND');
  });

  it("a tenant that B's policy denies gets a clear error", function () {
    this.timeout(60_000);
    const named = submit(a.agents[2]!, { resources: BIG, tenant: 'acme', idempotencyKey: 'acme-1', constraints: { cluster: 'b' } });
    assert.equal(named.status, 403, JSON.stringify(named.error));
    assert.equal(named.error.code, 'FEDERATION_DENIED');
    assert.equal(named.error.message, 'cluster b does not accept tenant acme from cluster a');
    const burst = submit(a.agents[2]!, { resources: BIG, tenant: 'acme', idempotencyKey: 'acme-2' });
    assert.equal(burst.status, 422, 'A has no room and no other cluster can or may take it');
    assert.equal(burst.error.code, 'JOB_UNPLACEABLE');
    assert.ok(burst.error.message.includes('cluster b does not accept tenant acme from cluster a'), `B's refusal is in the message: ${burst.error.message}`);
    assert.ok(burst.error.message.includes('cluster c: no host with 10 vCPUs'), `C's reason is in the message: ${burst.error.message}`);
    const cli403 = cli(['submit', '-'], { address: a.agents[3]!.address, input: JSON.stringify({ name: 'x', kind: 'vm', resources: BIG, tenant: 'acme', constraints: { cluster: 'b' } }) });
    assert.equal(cli403.code, 1, 'the CLI exits 1 on a policy refusal');
    assert.ok(cli403.stderr.includes('cluster b does not accept tenant acme from cluster a'), cli403.stderr);
    const forged = submit(a.agents[2]!, { resources: BIG, labels: { 'shoal.federation/origin': 'c' }, constraints: { cluster: 'b' } });
    assert.equal(forged.status, 400, 'a caller cannot claim another origin cluster');
    assert.equal(forged.error.code, 'JOB_INVALID_SPEC');
    const bToC = submit(b.agents[2]!, { resources: { vcpus: 1, memoryMiB: 512 }, idempotencyKey: 'b-to-c', constraints: { cluster: 'c' } });
    assert.equal(bToC.status, 403);
    assert.equal(bToC.error.message, 'cluster c does not accept jobs from cluster b', "C's summary already said so: no request crossed");
  });

  it("B's quota for a tenant holds whichever gateway of B the jobs reach", function () {
    this.timeout(60_000);
    const first = submit(a.agents[2]!, { resources: { vcpus: 6, memoryMiB: 2048 }, tenant: 'metered', idempotencyKey: 'm-1', constraints: { cluster: 'b' } });
    assert.equal(first.status, 201, JSON.stringify(first.error));
    const second = submit(a.agents[3]!, { resources: { vcpus: 6, memoryMiB: 2048 }, tenant: 'metered', idempotencyKey: 'm-2', constraints: { cluster: 'b' } });
    assert.equal(second.status, 403, JSON.stringify(second.error ?? second.job));
    assert.equal(second.error.code, 'FEDERATION_QUOTA_EXCEEDED');
    assert.equal(second.error.message, "cluster b's quota for tenant metered would be exceeded: 6 of 10 vCPUs in use, the job needs 6");
    const retry = submit(a.agents[1]!, { resources: { vcpus: 6, memoryMiB: 2048 }, tenant: 'metered', idempotencyKey: 'm-1', constraints: { cluster: 'b' } });
    assert.equal(retry.status, 200, `a retry of a placed key needs no new quota: ${JSON.stringify(retry.error)}`);
  });

  it('only the cluster that placed a job may stop it through the federation', function () {
    this.timeout(60_000);
    const placed = submit(a.agents[2]!, { resources: BIG, idempotencyKey: 'to-stop' });
    assert.equal(placed.status, 201, JSON.stringify(placed.error));
    const byC = curl(c.agents[1]!.socket, 'DELETE', `/v1/jobs/${placed.job.id}`);
    assert.equal(byC.status, 403, byC.raw);
    assert.equal((byC.body as ErrorBody).error.code, 'FEDERATION_DENIED');
    const byA = curl(a.agents[1]!.socket, 'DELETE', `/v1/jobs/${placed.job.id}`);
    assert.equal(byA.status, 200, byA.raw);
    assert.equal((byA.body as Job).desired, 'deleted');
    assert.equal((curl(a.agents[3]!.socket, 'GET', `/v1/jobs/${placed.job.id}`).body as Job).desired, 'deleted');
  });

  it("killing A's active gateway does not stop bursting, and a retried key still finds its job", async function () {
    this.timeout(120_000);
    const entry = a.agents[2]!;
    const active = federationStats(entry)!.entry!.activeGateway;
    const index = a.gatewayIds.indexOf(active ?? '');
    assert.ok(index >= 0, `the entry agent used one of A's gateways (active: ${active})`);
    const survivor = federationStats(a.agents[1 - index]!)!.gateway!;
    const victim = federationStats(a.agents[index]!)!.gateway!;
    assert.ok(survivor.bindings >= 3 && survivor.bindings === victim.bindings, `burst bindings are copied between A's gateways (survivor ${survivor.bindings}, victim ${victim.bindings})`);
    await a.agents[index]!.kill9();
    const started = Date.now();
    // Until gossip marks the victim failed (~2-3 s), it may still own the key in A: a 503 then
    // says "retry with the same key", which is what a client does. Retrying at once can spend
    // every try before the detection (a dial to a killed peer fails fast; seen on a loaded
    // box), so the retries wait until the entry no longer holds the victim alive.
    let r = submit(entry, { resources: BIG, idempotencyKey: 'after-kill' });
    if (r.status === 503) {
      await waitFor(() => members(entry).some((m) => m.id === a.ids[index] && m.status !== 'alive'), {
        timeoutMs: 20_000,
        what: `the entry to stop holding the killed gateway alive (first answer: ${JSON.stringify(r.error)})`,
      });
    }
    for (let tries = 1; r.status === 503 && tries < 5; tries++) r = submit(entry, { resources: BIG, idempotencyKey: 'after-kill' });
    assert.equal(r.status, 201, `bursting must go on through the other gateway: ${JSON.stringify(r.error ?? r.job)}`);
    assert.ok(r.job.id.endsWith('@b'));
    console.log(`      burst after the gateway kill answered in ${Date.now() - started} ms`);
    const now = federationStats(entry)!.entry!;
    assert.equal(now.activeGateway, a.gatewayIds[1 - index], 'the entry moved to the surviving gateway');
    // big-1 was bound by whichever gateway took it; the survivor holds a copy, and B deduplicates anyway.
    const other = a.agents.find((x, i) => i !== index && i >= a.spec.gateways && x !== entry)!;
    const again = submit(other, { resources: BIG, idempotencyKey: 'big-1' });
    assert.equal(again.status, 200, JSON.stringify(again.error ?? again.job));
    assert.equal(again.job.id, bigJob.id, 'the same key is the same job, through the other gateway');
  });

  it("killing the gateway of B that A's gateway uses: A's gateway fails over to B's other one", async function () {
    this.timeout(120_000);
    const aGateway = a.agents.slice(0, a.spec.gateways).find((g) => g.proc.exitCode === null && g.proc.signalCode === null)!;
    const usedB = federationStats(aGateway)!.gateway!.remoteActive.b;
    const index = b.gatewayIds.indexOf(usedB ?? '');
    assert.ok(index >= 0, `A's gateway talked to one of B's gateways (active: ${usedB})`);
    await b.agents[index]!.kill9();
    // B's own placement must first see the dead host as failed: that is B's business, not federation's.
    const survivors = b.agents.filter((_, i) => i !== index);
    await waitFor(() => survivors.every((s) => members(s).some((m) => m.id === b.ids[index] && m.status === 'failed')), {
      timeoutMs: 60_000,
      what: "B's other agents to mark the killed gateway failed",
      intervalMs: 250,
    });
    const r = submit(a.agents[3]!, { resources: BIG, idempotencyKey: 'after-remote-kill' });
    assert.equal(r.status, 201, `bursting into B must go on through B's other gateway: ${JSON.stringify(r.error ?? r.job)}`);
    assert.ok(r.job.id.endsWith('@b'));
    assert.equal(federationStats(aGateway)!.gateway!.remoteActive.b, b.gatewayIds[1 - index], "A's gateway now uses B's surviving gateway");
    const status = curl(c.agents[3]!.socket, 'GET', `/v1/jobs/${r.job.id}`);
    assert.equal(status.status, 200, `C also reaches B through its surviving gateway: ${status.raw}`);
  });
});
