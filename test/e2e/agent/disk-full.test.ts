import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { curl, startAgent, stopAllAgents, tempDir } from '../../helpers/agent-process.ts';

/** A real full disk: the agent's data dir on a tiny tmpfs, filled up with a file. */
describe('a full disk', function () {
  let mountPoint: string | undefined;

  before(function () {
    const dir = tempDir();
    mountPoint = join(dir, 'mnt');
    mkdirSync(mountPoint);
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(`      skipped: cannot mount a tmpfs here (${r.stderr.trim()}); needs root`);
      mountPoint = undefined;
      this.skip();
    }
  });
  after(async () => {
    await stopAllAgents();
    if (mountPoint) spawnSync('umount', ['-l', mountPoint]);
  });

  it('refuses new jobs with a precise 503, loses nothing, and recovers when space returns', async () => {
    const dataDir = join(mountPoint!, 'data');
    const agent = await startAgent({ args: ['--data-dir', dataDir], configToml: '[host]\ndrivers = ["fake"]\ncapacity = { vcpus = 1000, memory_mib = 1000000, disk_gib = 0 }\nreserved = { vcpus = 0, memory_mib = 0, disk_gib = 0 }\n' });
    const before = curl(agent.socket, 'POST', '/v1/jobs', { name: 'before-full', kind: 'vm', resources: { vcpus: 1, memoryMiB: 1 }, idempotencyKey: 'before' });
    assert.equal(before.status, 201, before.raw);

    const filler = join(mountPoint!, 'filler');
    spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { encoding: 'utf8' }); // runs until ENOSPC
    // LevelDB may still have room in its current log block; keep submitting (bounded) until it refuses.
    let full: ReturnType<typeof curl> | undefined;
    for (let i = 0; i < 200 && !full; i++) {
      const r = curl(agent.socket, 'POST', '/v1/jobs', { name: 'during-full', kind: 'vm', resources: { vcpus: 1, memoryMiB: 1 }, idempotencyKey: `full-${i}`, labels: { pad: 'x'.repeat(100) } });
      if (r.status !== 201) full = r;
    }
    assert.ok(full, 'a submit must fail once the disk is full');
    // The host refuses the admission it cannot persist; with no other host, placement says why.
    assert.equal(full.status, 503, `expected 503, got ${full.status}: ${full.raw}`);
    assert.equal(full.body.error.code, 'PLACEMENT_HOST_UNAVAILABLE');
    assert.match(full.body.error.message, /host could not persist the job: could not persist (job|binding).*: the disk is full/);

    rmSync(filler);
    // The store may have been left unusable by the failed write; the agent must say so rather than
    // lie. After space returns, a restart must find every acknowledged job and accept new ones.
    await agent.restart();
    const jobs = curl(agent.socket, 'GET', '/v1/jobs').body as { spec: { idempotencyKey: string } }[];
    assert.ok(jobs.some((j) => j.spec.idempotencyKey === 'before'), 'the job accepted before the disk filled survives');
    const keys = jobs.map((j) => j.spec.idempotencyKey);
    assert.equal(new Set(keys).size, keys.length, 'no idempotency key appears twice');
    const after = curl(agent.socket, 'POST', '/v1/jobs', { name: 'after-full', kind: 'vm', resources: { vcpus: 1, memoryMiB: 1 } });
    assert.equal(after.status, 201, after.raw);
  });
});
