import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { curl, startAgent, stopAllAgents, type AgentProcess } from '../../helpers/agent-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const small = { name: 'web-1', kind: 'vm', resources: { vcpus: 1, memoryMiB: 256 } };

describe('agent API over a real Unix socket (curl --unix-socket)', function () {
  let agent: AgentProcess;

  before(async () => {
    // A fixed capacity makes the 422 and capacity checks exact on any machine.
    agent = await startAgent({
      configToml: `[host]\ndrivers = ["fake"]\ncapacity = { vcpus = 4, memory_mib = 8192, disk_gib = 100 }\novercommit = { cpu = 1.0 }\nreserved = { vcpus = 0, memory_mib = 0, disk_gib = 0 }\n[agent]\nmax_body_bytes = 4096\n`,
    });
  });
  after(() => stopAllAgents());

  it('creates the socket with mode 0660', () => {
    const mode = statSync(agent.socket).mode & 0o777;
    assert.equal(mode.toString(8), '660', `socket mode should be 0660, got 0${mode.toString(8)}`);
  });

  it('GET /v1/agent/self reports identity, version and capacity', () => {
    const r = curl(agent.socket, 'GET', '/v1/agent/self');
    assert.equal(r.status, 200);
    assert.match(r.body.id, /^12D3Koo/, 'self id should be a libp2p Ed25519 peer id');
    assert.equal(r.body.version, '0.1.0');
    assert.deepEqual(r.body.capacity.allocatable, { vcpus: 4, memoryMiB: 8192, diskGiB: 100 });
    assert.deepEqual(r.body.drivers, ['fake']);
  });

  it('GET /v1/agent/health and /v1/agent/members answer', () => {
    const health = curl(agent.socket, 'GET', '/v1/agent/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
    const members = curl(agent.socket, 'GET', '/v1/agent/members');
    assert.equal(members.status, 200);
    assert.equal(members.body.length, 1, 'a one-host cluster lists only itself');
    assert.equal(members.body[0].status, 'alive');
  });

  it('POST /v1/jobs answers 201, then 200 for the same key and spec, 409 for a different spec', () => {
    const spec = { ...small, idempotencyKey: 'idem-1' };
    const first = curl(agent.socket, 'POST', '/v1/jobs', spec);
    assert.equal(first.status, 201, `first submit should create: ${first.raw}`);
    assert.match(first.body.state, /^(placed|starting|running)$/, 'an accepted job holds its capacity');
    assert.equal(first.body.driver, 'fake');
    const again = curl(agent.socket, 'POST', '/v1/jobs', spec);
    assert.equal(again.status, 200, 'same key + same spec is idempotent');
    assert.equal(again.body.id, first.body.id, 'the retry returns the same job');
    const different = curl(agent.socket, 'POST', '/v1/jobs', { ...spec, resources: { vcpus: 2, memoryMiB: 256 } });
    assert.equal(different.status, 409);
    assert.equal(different.body.error.code, 'JOB_IDEMPOTENCY_CONFLICT');
    assert.match(different.body.error.message, /idem-1/);
  });

  const badSpecs: [string, unknown, RegExp][] = [
    ['missing fields', { name: 'x' }, /kind: .*; resources: required/],
    ['zero vcpus', { ...small, resources: { vcpus: 0, memoryMiB: 256 } }, /resources\.vcpus: Too small/],
    ['negative memory', { ...small, resources: { vcpus: 1, memoryMiB: -5 } }, /resources\.memoryMiB: Too small/],
    ['unknown kind', { ...small, kind: 'container' }, /kind: Invalid option: expected one of "vm"\|"process"/],
    ['wrong types', { ...small, resources: { vcpus: '2', memoryMiB: 256 } }, /resources\.vcpus: Invalid input: expected number, received string/],
    ['unknown field', { ...small, colour: 'blue' }, /unknown field "colour"/],
    ['process without command', { ...small, kind: 'process' }, /command: a process job needs a command/],
    ['not an object', [1, 2], /expected a JSON object/],
  ];
  for (const [what, spec, message] of badSpecs) {
    it(`rejects a spec with ${what}: 400 with the field path`, () => {
      const r = curl(agent.socket, 'POST', '/v1/jobs', spec);
      assert.equal(r.status, 400, `expected 400 for ${what}, got ${r.status}: ${r.raw}`);
      assert.equal(r.body.error.code, 'JOB_INVALID_SPEC');
      assert.match(r.body.error.message, message);
      assert.ok(Array.isArray(r.body.error.details.issues), 'details.issues lists each problem');
    });
  }

  it('rejects malformed JSON with 400 and an oversized body with 413', () => {
    const bad = curl(agent.socket, 'POST', '/v1/jobs', '{"name": ');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'API_INVALID_JSON');
    const big = curl(agent.socket, 'POST', '/v1/jobs', { ...small, labels: { pad: 'x'.repeat(120) }, image: 'y'.repeat(4000) });
    assert.equal(big.status, 413, `body over max_body_bytes should get 413, got ${big.status}`);
    assert.equal(big.body.error.code, 'API_BODY_TOO_LARGE');
  });

  it('answers 422 with the reason when the job cannot fit', () => {
    const r = curl(agent.socket, 'POST', '/v1/jobs', { ...small, name: 'huge', resources: { vcpus: 64, memoryMiB: 256 } });
    assert.equal(r.status, 422);
    assert.equal(r.body.error.code, 'JOB_UNPLACEABLE');
    assert.match(r.body.error.message, /^no host with 64 vCPUs, 256 MiB memory free \(1 host checked: 1 short of vCPUs\)/);
    assert.deepEqual(r.body.error.details.reasons, { 'short-vcpus': 1 });
    const zone = curl(agent.socket, 'POST', '/v1/jobs', { ...small, name: 'zoned', constraints: { zone: 'mars' } });
    assert.equal(zone.status, 422);
    assert.match(zone.body.error.message, /zone mars/);
  });

  it('lists, fetches and deletes jobs; DELETE releases capacity', () => {
    const created = curl(agent.socket, 'POST', '/v1/jobs', { ...small, name: 'to-stop', resources: { vcpus: 2, memoryMiB: 1024 } });
    assert.equal(created.status, 201);
    const freeBefore = curl(agent.socket, 'GET', '/v1/agent/self').body.capacity.free;
    const list = curl(agent.socket, 'GET', '/v1/jobs');
    assert.ok(list.body.some((j: { id: string }) => j.id === created.body.id), 'GET /v1/jobs lists the new job');
    const one = curl(agent.socket, 'GET', `/v1/jobs/${created.body.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.spec.name, 'to-stop');
    const del = curl(agent.socket, 'DELETE', `/v1/jobs/${created.body.id}`);
    assert.equal(del.status, 200);
    assert.equal(del.body.desired, 'deleted');
    const freeAfter = curl(agent.socket, 'GET', '/v1/agent/self').body.capacity.free;
    assert.equal(freeAfter.vcpus, freeBefore.vcpus + 2, 'stopping a job frees its vcpus');
    assert.equal(freeAfter.memoryMiB, freeBefore.memoryMiB + 1024, 'stopping a job frees its memory');
    assert.equal(curl(agent.socket, 'GET', '/v1/jobs/nope').status, 404);
    assert.equal(curl(agent.socket, 'DELETE', '/v1/jobs/nope').body.error.code, 'JOB_NOT_FOUND');
  });

  it('GET /v1/events streams NDJSON events, with replay from ?since=', async () => {
    const created = curl(agent.socket, 'POST', '/v1/jobs', { ...small, name: 'evented' });
    assert.equal(created.status, 201);
    // The stream never ends by itself; curl's --max-time closes it once the buffered replay is out.
    const r = await waitFor(
      () => {
        const res = curl(agent.socket, 'GET', '/v1/events?since=0&type=job.', undefined, ['--max-time', '1']);
        return res.raw.includes(created.body.id) ? res : undefined;
      },
      { timeoutMs: 10_000, what: 'the job.accepted event in the stream' },
    );
    const events = r.raw.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.ok(events.every((e: { type: string }) => e.type.startsWith('job.')), 'type filter applies');
    assert.ok(events.some((e: { type: string; jobId: string }) => e.type === 'job.accepted' && e.jobId === created.body.id));
  });

  it('GET /v1/metrics serves Prometheus text', () => {
    const r = curl(agent.socket, 'GET', '/v1/metrics');
    assert.equal(r.status, 200);
    assert.match(r.raw, /^# HELP shoal_job_submissions_total/m);
    assert.match(r.raw, /shoal_job_submissions_total\{outcome="created"\} \d+/);
    assert.match(r.raw, /shoal_process_resident_memory_bytes/);
  });

  it('answers unknown routes with a JSON 404', () => {
    const r = curl(agent.socket, 'GET', '/v1/nothing');
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'API_NOT_FOUND');
  });
});
