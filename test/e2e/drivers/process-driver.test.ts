import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDriverError } from '../../../src/host/driver-errors.ts';
import { ProcessDriver, defaultProcessDriverOptions } from '../../../src/host/process-driver.ts';
import { cgroup1Mounts, detectLimitBackend } from '../../../src/host/process-limits.ts';
import { killMatching, makeTmpDir, pidsOfCommand, processSpec, removeDir, waitUntil } from './helpers.ts';

/** A unique argv marker per test, so pgrep finds exactly this test's processes. */
let markerSeq = 0;
function marker(): string {
  return `61.${process.pid}${++markerSeq}`;
}

describe('process driver (real processes and cgroups)', function () {
  this.timeout(60_000);
  let dataDir: string;
  let driver: ProcessDriver;
  const refs: string[] = [];

  beforeEach(() => {
    dataDir = makeTmpDir('shoal-p-');
    driver = new ProcessDriver({ ...defaultProcessDriverOptions, dataDir }, { log: null });
  });

  afterEach(async () => {
    for (const ref of refs.splice(0)) await driver.destroy(ref).catch(() => undefined);
    killMatching(dataDir);
    removeDir(dataDir);
  });

  async function run(jobId: string, command: string[], extra: Partial<Parameters<typeof processSpec>[0]> = {}): Promise<string> {
    const { ref } = await driver.create({ jobId, name: jobId, spec: processSpec({ name: jobId, command, ...extra }), dataDir });
    refs.push(ref);
    await driver.start(ref);
    return ref;
  }

  it('probes and reports how it limits processes on this host', async () => {
    const p = await driver.probe();
    assert.equal(p.available, true, `process driver should be available: ${p.reason}`);
    const mode = String(p.details.limitMode);
    assert.ok(['systemd', 'cgroup2', 'cgroup1', 'rlimit'].includes(mode), `unknown mode ${mode}`);
    console.log(`    limit mode here: ${mode}`);
    // This machine has writable cgroup v1 memory/cpu hierarchies and no systemd: the real path must be cgroups, not rlimits.
    const v1 = await cgroup1Mounts('/proc/self/mountinfo');
    if (v1.has('memory') && !existsSync('/run/systemd/system')) {
      assert.ok(mode === 'cgroup1' || mode === 'cgroup2', `with cgroup hierarchies present the driver must use them, got ${mode}`);
    }
  });

  it('runs a command detached with limits, stops it gracefully, destroys it', async () => {
    const mk = marker();
    const ref = await run('p-life', ['sleep', mk], { resources: { vcpus: 1, memoryMiB: 96 } });
    assert.equal(await driver.status(ref), 'running');
    const pids = pidsOfCommand('sleep', mk);
    assert.equal(pids.length, 1, 'one process for the job');
    const stats = await driver.stats(ref);
    assert.equal(stats.pid, pids[0], 'stats report the job pid');
    const mode = String((await driver.probe()).details.limitMode);
    if (mode === 'cgroup1') {
      const mounts = await cgroup1Mounts('/proc/self/mountinfo');
      const mem = join(mounts.get('memory')!, 'shoal', 'p-life');
      const cpu = join(mounts.get('cpu')!, 'shoal', 'p-life');
      assert.equal(readFileSync(join(mem, 'memory.limit_in_bytes'), 'utf8').trim(), String(96 * 1024 * 1024), 'memory limit is the spec memory');
      assert.equal(readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8').trim(), '100000', '1 vCPU is 100 ms per 100 ms period');
      assert.ok(readFileSync(join(mem, 'cgroup.procs'), 'utf8').split('\n').includes(String(pids[0])), 'the job runs inside its memory cgroup');
    }
    await driver.stop(ref, { graceMs: 5_000 });
    assert.equal(await driver.status(ref), 'stopped');
    assert.equal(pidsOfCommand('sleep', mk).length, 0, 'the job is gone after stop');
    const exit = await driver.lastExit(ref);
    assert.equal(exit?.requested, true, 'lastExit says the stop was requested');
    assert.equal(exit?.signal, 'SIGTERM', 'graceful stop is SIGTERM');
    await driver.destroy(ref);
    assert.equal(existsSync(ref), false, 'destroy removes the job directory');
    if (mode === 'cgroup1') {
      const mounts = await cgroup1Mounts('/proc/self/mountinfo');
      assert.equal(existsSync(join(mounts.get('memory')!, 'shoal', 'p-life')), false, 'destroy removes the cgroup');
    }
  });

  it('OOM-kills a job that exceeds its memory limit and says so', async function () {
    const mode = String((await driver.probe()).details.limitMode);
    if (mode === 'rlimit') {
      console.log('    skipped: no cgroups here, so there is no OOM killer per job (rlimit mode)');
      this.skip();
    }
    // Node allocating and touching 1 MiB buffers until the 64 MiB cgroup limit kills it.
    const ref = await run('p-oom', [process.execPath, '-e', 'const a=[];for(;;)a.push(Buffer.alloc(1<<20,1))'], { resources: { vcpus: 1, memoryMiB: 64 }, restart: 'never' });
    await waitUntil('the OOM-killed job is reported crashed', async () => (await driver.status(ref)) === 'crashed', 30_000);
    const exit = await driver.lastExit(ref);
    assert.equal(exit?.oomKilled, true, `the kill must be attributed to the memory limit: ${JSON.stringify(exit)}`);
    assert.equal(exit?.signal, 'SIGKILL');
    assert.match(exit!.reason, /OOM-killed: exceeded its memory limit of 64 MiB/);
  });

  it('reports exit codes and kills from outside precisely', async () => {
    const ok = await run('p-ok', ['true']);
    await waitUntil('true exits', async () => (await driver.status(ok)) !== 'running', 10_000);
    assert.equal(await driver.status(ok), 'stopped', 'exit 0 reads as stopped');
    assert.equal((await driver.lastExit(ok))?.exitCode, 0);

    const bad = await run('p-bad', ['sh', '-c', 'exit 3']);
    await waitUntil('exit 3', async () => (await driver.status(bad)) !== 'running', 10_000);
    assert.equal(await driver.status(bad), 'crashed', 'a non-zero exit reads as crashed');
    const e = await driver.lastExit(bad);
    assert.equal(e?.exitCode, 3);
    assert.equal(e?.reason, 'exited with code 3');
    assert.equal(e?.oomKilled, false);

    const mk = marker();
    const killed = await run('p-kill', ['sleep', mk]);
    process.kill(pidsOfCommand('sleep', mk)[0]!, 'SIGKILL');
    await waitUntil('the killed job is seen', async () => (await driver.status(killed)) === 'crashed', 10_000);
    const k = await driver.lastExit(killed);
    assert.equal(k?.signal, 'SIGKILL');
    assert.equal(k?.requested, false);
    assert.equal(k?.oomKilled, false, 'a kill from outside is not an OOM kill');
  });

  it('survives as a detached job: a fresh driver adopts it and start does not run a second copy', async () => {
    const mk = marker();
    const ref = await run('p-adopt', ['sleep', mk]);
    const before = pidsOfCommand('sleep', mk);
    const fresh = new ProcessDriver({ ...defaultProcessDriverOptions, dataDir }, { log: null });
    const listed = await fresh.list();
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.jobId, 'p-adopt');
    assert.equal(listed[0]!.state, 'running');
    assert.ok(listed[0]!.startedAtMs! > Date.now() - 60_000, 'start time from /proc');
    await fresh.start(ref);
    assert.deepEqual(pidsOfCommand('sleep', mk), before, 'still exactly the same one process');
    // proc(5) field 6 is the session id: the job runs in its own session, not the agent's.
    const sid = (pid: number | string): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[3]);
    assert.notEqual(sid(before[0]!), sid('self'), 'the job is detached from the agent\'s session');
  });

  it('stops the whole process tree the job forked', async () => {
    const mk = marker();
    const ref = await run('p-tree', ['sh', '-c', `sleep ${mk} & sleep ${mk}; wait`]);
    await waitUntil('both sleeps run', () => pidsOfCommand('sleep', mk).length === 2, 5_000);
    await driver.stop(ref, { graceMs: 2_000 });
    await waitUntil('no sleep left', () => pidsOfCommand('sleep', mk).length === 0, 5_000);
  });

  it('rejects a command that does not exist, leaving nothing', async () => {
    await assert.rejects(
      driver.create({ jobId: 'p-nope', name: 'nope', spec: processSpec({ command: ['/nonexistent/bin/x'] }), dataDir }),
      (e: unknown) => isDriverError(e, 'DRIVER_INVALID_JOB') && /not an executable/.test(e.message),
    );
    assert.equal(existsSync(join(dataDir, 'procs', 'p-nope')), false);
  });

  it('in rlimit mode caps the address space and warns', async () => {
    const warnings: string[] = [];
    const r = new ProcessDriver({ ...defaultProcessDriverOptions, dataDir, limitMode: 'rlimit' }, { log: { info: () => undefined, warn: (_f, msg) => warnings.push(msg) } });
    const p = await r.probe();
    assert.equal(p.details.limitMode, 'rlimit');
    assert.match(String(p.details.warning), /CPU is not limited/);
    assert.equal(warnings.length, 1, 'the fallback is logged once');
    const mk = marker();
    const { ref } = await r.create({ jobId: 'p-rl', name: 'rl', spec: processSpec({ command: ['sleep', mk], resources: { vcpus: 1, memoryMiB: 256 } }), dataDir });
    await r.start(ref);
    const pid = pidsOfCommand('sleep', mk)[0]!;
    const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
    assert.match(limits, new RegExp(`Max address space\\s+${256 * 1024 * 1024}\\s`), `RLIMIT_AS should be 256 MiB:\n${limits}`);
    await r.destroy(ref);
  });

  it('says precisely why a forced mode is unusable', async () => {
    const b = await detectLimitBackend('systemd', { cgroupParent: 'shoal', cgroupRoot: '/sys/fs/cgroup', mountinfoPath: '/proc/self/mountinfo', systemdRuntimeDir: join(dataDir, 'no-systemd') });
    assert.ok('unusable' in b, 'systemd mode without systemd must be unusable');
    assert.match(b.unusable, /systemd is not the init system/);
  });
});
