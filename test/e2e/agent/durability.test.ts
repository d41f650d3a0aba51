import assert from 'node:assert/strict';
import { ShoalClient } from '../../../src/cli/client.ts';
import { curl, startAgent, stopAllAgents } from '../../helpers/agent-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';

describe('durability: kill -9 during a burst of submits', function () {
  after(() => stopAllAgents());

  it('keeps every job answered 201 and duplicates none', async () => {
    const agent = await startAgent({ configToml: '[host]\ndrivers = ["fake"]\ncapacity = { vcpus = 100000, memory_mib = 100000000, disk_gib = 100000 }\n' });
    const client = new ShoalClient({ address: agent.address, timeoutMs: 10_000 });
    const answered201 = new Map<string, string>(); // idempotency key → job id
    const maxSubmits = 2000; // bounded in count …
    const deadline = Date.now() + 30_000; // … and in time
    let sent = 0;
    let killed = false;

    // Eight concurrent submitters keep requests in flight when the kill lands.
    const submitter = async (): Promise<void> => {
      while (!killed && sent < maxSubmits && Date.now() < deadline) {
        const key = `burst-${sent++}`;
        try {
          const { status, data } = await client.call<{ id: string }>('POST', '/v1/jobs', { name: 'burst', kind: 'vm', resources: { vcpus: 1, memoryMiB: 1 }, idempotencyKey: key });
          if (status === 201) answered201.set(key, data.id);
        } catch {
          // The kill cut this request off: it was never answered, so it may or may not exist.
        }
      }
    };
    const workers = Array.from({ length: 8 }, submitter);
    await waitFor(() => answered201.size >= 200, { timeoutMs: 30_000, what: '200 jobs answered 201 before the kill' });
    await agent.kill9();
    killed = true;
    await Promise.all(workers);
    await client.close();
    assert.ok(sent > answered201.size, `some requests should have been in flight at the kill (sent ${sent}, answered ${answered201.size})`);

    await agent.restart();
    const jobs = curl(agent.socket, 'GET', '/v1/jobs').body as { id: string; spec: { idempotencyKey: string } }[];
    const byKey = new Map<string, string[]>();
    for (const job of jobs) byKey.set(job.spec.idempotencyKey, [...(byKey.get(job.spec.idempotencyKey) ?? []), job.id]);
    for (const [key, id] of answered201) {
      assert.deepEqual(byKey.get(key), [id], `job ${id} (key ${key}) was answered 201 before the kill and must survive it, once`);
    }
    for (const [key, ids] of byKey) assert.equal(ids.length, 1, `key ${key} must map to exactly one job, got ${ids.length}`);

    // Retrying every key after the restart creates only what was never persisted, and duplicates nothing.
    const retry = new ShoalClient({ address: agent.address });
    for (const key of answered201.keys()) {
      const { status } = await retry.call('POST', '/v1/jobs', { name: 'burst', kind: 'vm', resources: { vcpus: 1, memoryMiB: 1 }, idempotencyKey: key });
      assert.equal(status, 200, `retrying ${key} after the restart must return the existing job`);
    }
    await retry.close();
  });
});
