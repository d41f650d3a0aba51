import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InMemoryUsageRepository } from '../../../src/host/in-memory-repositories.ts';
import { Metering, defaultMeteringOptions, type UsageObservation } from '../../../src/host/metering.ts';
import { summarizeUsage, usageToCsv, usageToJson } from '../../../src/host/usage-export.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);

function obs(o: Partial<UsageObservation> & { nowMs: number; running: boolean }): UsageObservation {
  return { jobId: 'j1', tenant: 'acme', vcpus: 2, memoryMiB: 512, ...o };
}

async function totalSeconds(repo: InMemoryUsageRepository): Promise<number> {
  return (await repo.listBuckets({})).reduce((s, b) => s + b.runningSeconds, 0);
}

describe('Metering', () => {
  it('adds observed running intervals, in vCPU-seconds and memory-MiB-seconds', async () => {
    const repo = new InMemoryUsageRepository();
    const m = new Metering(defaultMeteringOptions, { repository: repo, metrics: null });
    await m.observe(obs({ nowMs: T0 + 10_000, running: true, startedAtMs: T0 }));
    await m.observe(obs({ nowMs: T0 + 15_000, running: true, startedAtMs: T0 }));
    const [b] = await repo.listBuckets({});
    assert.equal(b!.runningSeconds, 15, 'counted from the start of the run');
    assert.equal(b!.vcpuSeconds, 30);
    assert.equal(b!.memoryMiBSeconds, 15 * 512);
  });

  it('splits an interval across hour buckets', async () => {
    const repo = new InMemoryUsageRepository();
    const m = new Metering(defaultMeteringOptions, { repository: repo, metrics: null });
    await m.observe(obs({ nowMs: T0 + HOUR + 60_000, running: true, startedAtMs: T0 + HOUR - 30_000 }));
    const buckets = (await repo.listBuckets({})).sort((a, b) => a.startMs - b.startMs);
    assert.deepEqual(
      buckets.map((b) => [b.startMs - T0, b.runningSeconds]),
      [
        [0, 30],
        [HOUR, 60],
      ],
      '30 s in the first hour, 60 s in the next',
    );
  });

  it('does not double count after a restart (new Metering, same repository)', async () => {
    const repo = new InMemoryUsageRepository();
    await new Metering(defaultMeteringOptions, { repository: repo, metrics: null }).observe(obs({ nowMs: T0 + 20_000, running: true, startedAtMs: T0 }));
    const again = new Metering(defaultMeteringOptions, { repository: repo, metrics: null });
    await again.observe(obs({ nowMs: T0 + 20_000, running: true, startedAtMs: T0 }));
    await again.observe(obs({ nowMs: T0 + 30_000, running: true, startedAtMs: T0 }));
    assert.equal(await totalSeconds(repo), 30, 'the restarted meter starts where the cursor stopped');
  });

  it('bridges an agent outage when the run\'s start time proves it kept running, and not when it restarted meanwhile', async () => {
    const repo = new InMemoryUsageRepository();
    const m = new Metering(defaultMeteringOptions, { repository: repo, metrics: null });
    await m.observe(obs({ nowMs: T0 + 10_000, running: true, startedAtMs: T0 }));
    // Agent down 10 minutes; the same run is still up.
    await m.observe(obs({ nowMs: T0 + 610_000, running: true, startedAtMs: T0 }));
    assert.equal(await totalSeconds(repo), 610);
    // Down again; meanwhile the instance crashed and was restarted at +900 s by someone.
    await m.observe(obs({ nowMs: T0 + 1_000_000, running: true, startedAtMs: T0 + 900_000 }));
    assert.equal(await totalSeconds(repo), 710, 'only the new run since +900 s counts');
  });

  it('without a start time counts across short gaps only', async () => {
    const repo = new InMemoryUsageRepository();
    const m = new Metering({ ...defaultMeteringOptions, maxUnverifiedGapMs: 60_000 }, { repository: repo, metrics: null });
    await m.observe(obs({ nowMs: T0, running: true }));
    await m.observe(obs({ nowMs: T0 + 30_000, running: true }));
    assert.equal(await totalSeconds(repo), 30, 'a first sighting counts nothing; 30 s after it counts');
    await m.observe(obs({ nowMs: T0 + 330_000, running: true }));
    assert.equal(await totalSeconds(repo), 30, 'a 5-minute unverified gap is not billed');
  });

  it('counts the tail up to the exit time, once', async () => {
    const repo = new InMemoryUsageRepository();
    const m = new Metering(defaultMeteringOptions, { repository: repo, metrics: null });
    await m.observe(obs({ nowMs: T0 + 5_000, running: true, startedAtMs: T0 }));
    await m.observe(obs({ nowMs: T0 + 10_000, running: false, endedAtMs: T0 + 7_000 }));
    await m.observe(obs({ nowMs: T0 + 20_000, running: false, endedAtMs: T0 + 7_000 }));
    assert.equal(await totalSeconds(repo), 7);
  });

  it('does not write when nothing changed', async () => {
    const repo = new InMemoryUsageRepository();
    const m = new Metering(defaultMeteringOptions, { repository: repo, metrics: null });
    await m.observe(obs({ nowMs: T0, running: false }));
    await m.observe(obs({ nowMs: T0, running: false }));
    assert.equal(repo.commits, 1);
  });

  it('property: never bills more than the true running time, and bills it exactly when every run is observed with full information', async () => {
    const seed = Number(process.env.SHOAL_TEST_SEED ?? Date.now() % 2 ** 31);
    const segment = fc.record({
      durMs: fc.integer({ min: 1, max: 2 * HOUR }),
      // Offsets within the segment where the reconciler happens to look, as fractions.
      looks: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 3 }),
    });
    const scenario = fc.record({
      segments: fc.array(segment, { minLength: 1, maxLength: 12 }),
      startsRunning: fc.boolean(),
      restartEvery: fc.integer({ min: 1, max: 5 }),
      hideInfo: fc.boolean(),
    });
    try {
      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          const repo = new InMemoryUsageRepository();
          let m = new Metering(defaultMeteringOptions, { repository: repo, metrics: null });
          let t = T0;
          let running = s.startsRunning;
          let truthMs = 0;
          let lastRunStart: number | undefined;
          let lastRunEnd: number | undefined;
          let count = 0;
          let lastLookInRun: number | undefined;
          for (const seg of s.segments) {
            const segStart = t;
            const segEnd = t + seg.durMs;
            if (running) lastRunStart = segStart;
            const looks = seg.looks.map((f) => segStart + Math.floor(f * (seg.durMs - 1))).sort((a, b) => a - b);
            for (const at of looks) {
              if (++count % s.restartEvery === 0) m = new Metering(defaultMeteringOptions, { repository: repo, metrics: null });
              const info = s.hideInfo ? {} : running ? { startedAtMs: lastRunStart } : lastRunEnd !== undefined ? { endedAtMs: lastRunEnd } : {};
              await m.observe(obs({ nowMs: at, running, ...info }));
              await m.observe(obs({ nowMs: at, running, ...info })); // duplicates must be harmless
              if (running) lastLookInRun = at;
            }
            if (running) {
              // This run is billable up to its end if it is followed by an observation that reports the end.
              truthMs += segEnd - segStart;
              lastRunEnd = segEnd;
            }
            t = segEnd;
            running = !running;
          }
          // A run still going at the end is billable only up to the last look.
          if (!running && lastLookInRun !== undefined && lastRunEnd !== undefined && lastRunEnd === t) truthMs -= t - lastLookInRun;
          const billed = (await totalSeconds(repo)) * 1000;
          assert.ok(billed <= truthMs + 1e-6, `billed ${billed} ms > true ${truthMs} ms`);
          if (!s.hideInfo) assert.ok(Math.abs(billed - truthMs) < 1e-3, `with full information billed ${billed} ms must equal ${truthMs} ms`);
        }),
        { seed, numRuns: 300 },
      );
    } catch (err) {
      console.log(`    metering property failed with seed ${seed} (rerun with SHOAL_TEST_SEED=${seed})`);
      throw err;
    }
  });
});

describe('usage export', () => {
  const buckets = [
    { jobId: 'a', tenant: 'acme', startMs: T0, vcpuSeconds: 10, memoryMiBSeconds: 100, runningSeconds: 5 },
    { jobId: 'a', tenant: 'acme', startMs: T0 + HOUR, vcpuSeconds: 20, memoryMiBSeconds: 200, runningSeconds: 10 },
    { jobId: 'b', tenant: 'acme', startMs: T0, vcpuSeconds: 1, memoryMiBSeconds: 1, runningSeconds: 1 },
    { jobId: 'c', tenant: 'beta, "inc"', startMs: T0, vcpuSeconds: 3, memoryMiBSeconds: 3, runningSeconds: 3 },
  ];

  it('sums per tenant and per job, with a since filter at bucket granularity', () => {
    const perTenant = summarizeUsage(buckets, { groupBy: 'tenant' }, HOUR);
    assert.deepEqual(
      perTenant.map((r) => [r.tenant, r.runningSeconds, r.vcpuSeconds]),
      [
        ['acme', 16, 31],
        ['beta, "inc"', 3, 3],
      ],
    );
    const since = summarizeUsage(buckets, { groupBy: 'job', tenant: 'acme', sinceMs: T0 + HOUR + 5 }, HOUR);
    assert.deepEqual(
      since.map((r) => [r.jobId, r.runningSeconds]),
      [['a', 10]],
      'only the bucket overlapping [since, …) of tenant acme',
    );
  });

  it('renders RFC 4180 CSV with quoting and ISO times', () => {
    const csv = usageToCsv(summarizeUsage(buckets, { groupBy: 'tenant' }, HOUR));
    const lines = csv.split('\r\n');
    assert.equal(lines[0], 'tenant,job_id,from,to,running_seconds,vcpu_seconds,memory_mib_seconds');
    assert.equal(lines[1], 'acme,,2026-11-22T10:00:00.000Z,2026-11-22T12:00:00.000Z,16,31,301');
    assert.equal(lines[2], '"beta, ""inc""",,2026-11-22T10:00:00.000Z,2026-11-22T11:00:00.000Z,3,3,3', 'commas and quotes are quoted');
    assert.equal(lines[3], '', 'ends with CRLF');
  });

  it('renders versioned JSON', () => {
    const q = { groupBy: 'job' as const, sinceMs: T0 };
    const j = usageToJson(summarizeUsage(buckets, q, HOUR), q);
    assert.equal(j.version, 1);
    assert.equal(j.since, '2026-11-22T10:00:00.000Z');
    assert.equal(j.rows.length, 3);
    assert.deepEqual(j.rows[0], { tenant: 'acme', jobId: 'a', vcpuSeconds: 30, memoryMiBSeconds: 300, runningSeconds: 15, from: '2026-11-22T10:00:00.000Z', to: '2026-11-22T12:00:00.000Z' });
    assert.doesNotThrow(() => JSON.parse(JSON.stringify(j)));
  });
});
