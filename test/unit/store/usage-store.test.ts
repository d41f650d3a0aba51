import assert from 'node:assert/strict';
import { Metering, defaultMeteringOptions, type UsageBucket } from '../../../src/host/index.ts';
import { Store } from '../../../src/store/index.ts';
import { UsageStore } from '../../../src/store/usage-store.ts';
import { useTempStore } from '../../helpers/temp-store.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);

function bucket(jobId: string, startMs: number, runningSeconds: number): UsageBucket {
  return { jobId, tenant: 'acme', startMs, vcpuSeconds: runningSeconds * 2, memoryMiBSeconds: runningSeconds * 128, runningSeconds };
}

describe('UsageStore (real LevelDB on disk)', () => {
  const t = useTempStore();

  it('commits a cursor with its buckets and reads both back after reopening', async () => {
    const usage = new UsageStore(t.store);
    await usage.commit({ jobId: 'j1', tenant: 'acme', lastAtMs: T0 + HOUR + 5_000, running: true }, [bucket('j1', T0, 3600), bucket('j1', T0 + HOUR, 5)]);
    await t.store.close();
    t.store = await Store.open(t.dir);
    const reopened = new UsageStore(t.store);
    assert.deepEqual(await reopened.getCursor('j1'), { jobId: 'j1', tenant: 'acme', lastAtMs: T0 + HOUR + 5_000, running: true }, 'the cursor survives a reopen');
    assert.equal((await reopened.getBucket('j1', T0 + HOUR))?.runningSeconds, 5, 'the second hour bucket survives a reopen');
    assert.equal(await reopened.getBucket('j1', T0 + 2 * HOUR), undefined, 'no bucket where nothing ran');
    assert.equal(await reopened.getCursor('j2'), undefined);
  });

  it('lists buckets by start time range, across jobs, [from, to)', async () => {
    const usage = new UsageStore(t.store);
    await usage.commit({ jobId: 'a', tenant: 'acme', lastAtMs: T0 + 3 * HOUR, running: false }, [bucket('a', T0, 1), bucket('a', T0 + HOUR, 2), bucket('a', T0 + 2 * HOUR, 3)]);
    await usage.commit({ jobId: 'b', tenant: 'acme', lastAtMs: T0 + 2 * HOUR, running: false }, [bucket('b', T0 + HOUR, 10)]);
    const all = await usage.listBuckets({});
    assert.equal(all.length, 4, 'every bucket of every job');
    const mid = await usage.listBuckets({ fromStartMs: T0 + HOUR, toStartMs: T0 + 2 * HOUR });
    assert.deepEqual(
      mid.map((b) => `${b.jobId}@${(b.startMs - T0) / HOUR}`).sort(),
      ['a@1', 'b@1'],
      'from is inclusive and to exclusive',
    );
    // A bound between two starts selects by whole buckets, as a numeric comparison would.
    const after = await usage.listBuckets({ fromStartMs: T0 + HOUR + 1 });
    assert.deepEqual(after.map((b) => (b.startMs - T0) / HOUR), [2], 'a start inside an hour skips that hour');
  });

  it('orders keys numerically, not as strings of different lengths', async () => {
    const usage = new UsageStore(t.store);
    // 9 h = 32400000 and 30 h = 108000000: as plain strings "324…" sorts after "108…".
    await usage.commit({ jobId: 'e', tenant: 'acme', lastAtMs: T0, running: false }, [bucket('e', 9 * HOUR, 1), bucket('e', 30 * HOUR, 2)]);
    const from = await usage.listBuckets({ fromStartMs: 10 * HOUR });
    assert.deepEqual(from.map((b) => b.startMs / HOUR), [30], 'only the 30 h bucket starts at or after 10 h');
    const before = await usage.listBuckets({ toStartMs: 10 * HOUR });
    assert.deepEqual(before.map((b) => b.startMs / HOUR), [9], 'only the 9 h bucket starts before 10 h');
  });

  it('refuses a commit that mixes jobs, writing nothing', async () => {
    const usage = new UsageStore(t.store);
    await assert.rejects(
      usage.commit({ jobId: 'x', tenant: 'acme', lastAtMs: T0, running: true }, [bucket('x', T0, 1), bucket('y', T0, 1)]),
      (err: { code: string }) => err.code === 'USAGE_INVALID_COMMIT',
      'a commit carrying another job’s bucket is rejected with USAGE_INVALID_COMMIT',
    );
    assert.equal(await usage.getCursor('x'), undefined, 'the cursor was not written');
    assert.deepEqual(await usage.listBuckets({}), [], 'no bucket was written');
  });

  it('with Metering: usage accumulated before a restart is neither lost nor counted twice after it', async () => {
    const meter = (s: Store): Metering => new Metering(defaultMeteringOptions, { repository: new UsageStore(s), metrics: null });
    const job = { jobId: 'm1', tenant: 'acme', vcpus: 2, memoryMiB: 128 };
    const started = T0 + 10 * 60_000;
    let m = meter(t.store);
    await m.observe({ ...job, running: true, nowMs: started + 30_000, startedAtMs: started });
    await m.observe({ ...job, running: true, nowMs: started + 60_000, startedAtMs: started });
    await t.store.close();
    t.store = await Store.open(t.dir);
    m = meter(t.store);
    // The agent restarts and sees the same run again (same start time), then the job stops.
    await m.observe({ ...job, running: true, nowMs: started + 90_000, startedAtMs: started });
    await m.observe({ ...job, running: false, nowMs: started + 100_000, endedAtMs: started + 95_000 });
    const [row] = await m.report({ groupBy: 'job' });
    assert.ok(row, 'one usage row for the job');
    assert.equal(row.runningSeconds, 95, `95 s ran from start to end, counted once across the restart; got ${row.runningSeconds}`);
    assert.equal(row.vcpuSeconds, 190, '2 vCPUs × 95 s');
    assert.equal(row.memoryMiBSeconds, 128 * 95, '128 MiB × 95 s');
  });
});
