import assert from 'node:assert/strict';
import type { DriverName, JobRecord } from '../../../src/core/job.ts';
import type { Driver } from '../../../src/host/driver.ts';
import { FakeDriver } from '../../../src/host/fake-driver.ts';
import { InMemoryJobRepository, InMemoryUsageRepository } from '../../../src/host/in-memory-repositories.ts';
import type { ImportCandidate } from '../../../src/host/job-repository.ts';
import { Metering, defaultMeteringOptions } from '../../../src/host/metering.ts';
import { Reconciler, defaultReconcilerOptions, type ReconcilerEvent, type ReconcilerOptions } from '../../../src/host/reconciler.ts';
import { ManualClock, record } from './host-fixtures.ts';

interface Rig {
  clock: ManualClock;
  repo: InMemoryJobRepository;
  fake: FakeDriver;
  events: ReconcilerEvent[];
  rec: Reconciler;
  imported: ImportCandidate[];
  /** A new reconciler over the same repo and driver state: an agent restart. */
  restart(opts?: Partial<ReconcilerOptions>): void;
}

function rig(opts: Partial<ReconcilerOptions> = {}, drivers?: Map<DriverName, Driver>, metering: Metering | null = null): Rig {
  const clock = new ManualClock();
  const repo = new InMemoryJobRepository(() => clock.now());
  const fake = new FakeDriver({ name: 'fake', available: true }, { now: () => clock.now() });
  const events: ReconcilerEvent[] = [];
  const imported: ImportCandidate[] = [];
  const make = (o: Partial<ReconcilerOptions>): Reconciler =>
    new Reconciler(
      { ...defaultReconcilerOptions, dataDir: '/nonexistent', hostId: 'host-a', ...opts, ...o },
      {
        clock,
        repository: repo,
        drivers: drivers ?? new Map<DriverName, Driver>([['fake', fake]]),
        onEvent: (ev) => events.push(ev),
        importInstance: async (c) => {
          imported.push(c);
          const r = record(`imp-${imported.length}`, {}, { state: 'running', driverRef: c.instance.ref });
          repo.put(r);
          return r;
        },
        metering,
        metrics: null,
        log: null,
      },
    );
  const r: Rig = {
    clock,
    repo,
    fake,
    events,
    imported,
    rec: make({}),
    restart(o = {}) {
      r.rec = make(o);
    },
  };
  return r;
}

const types = (evs: ReconcilerEvent[]): string[] => evs.map((e) => `${e.type}:${e.jobId}`);

describe('Reconciler (fake driver, manual clock)', () => {
  it('creates and starts a placed job, recording the driver ref', async () => {
    const t = rig();
    t.repo.put(record('j1'));
    await t.rec.reconcileOnce();
    const r = t.repo.get('j1')!;
    assert.equal(r.state, 'running', 'placed → running');
    assert.equal(r.driverRef, 'fake:j1', 'the driver ref is stored');
    assert.deepEqual(types(t.events), ['started:j1']);
    assert.equal(t.fake.startsOf('fake:j1'), 1);
    await t.rec.reconcileOnce();
    assert.equal(t.fake.startsOf('fake:j1'), 1, 'a second pass does nothing more');
    assert.equal(t.fake.calls.create, 1, 'created once');
  });

  it('adopts a running instance after an agent restart and never starts a second copy', async () => {
    const t = rig();
    t.repo.put(record('j1'));
    await t.rec.reconcileOnce();
    t.restart();
    t.events.length = 0;
    await t.rec.reconcileOnce();
    assert.deepEqual(types(t.events), ['adopted:j1'], 'the fresh reconciler adopts');
    assert.equal(t.fake.startsOf('fake:j1'), 1, 'adoption must not start it again');
    assert.equal(t.fake.calls.create, 1, 'adoption must not create');
    assert.equal(t.fake.size, 1, 'exactly one instance');
  });

  it('adopts even when the record lost its driverRef (crash between create and update)', async () => {
    const t = rig();
    const { ref } = await t.fake.create({ jobId: 'j1', name: 'j1', spec: record('j1').spec, dataDir: '/x' });
    await t.fake.start(ref);
    t.repo.put(record('j1', {}, { state: 'starting' }));
    await t.rec.reconcileOnce();
    assert.equal(t.repo.get('j1')!.state, 'running');
    assert.equal(t.repo.get('j1')!.driverRef, ref, 'found by job id and recorded');
    assert.equal(t.fake.startsOf(ref), 1);
  });

  it('after a host reboot starts jobs whose desired state is running, at once', async () => {
    const t = rig();
    t.repo.put(record('j1'));
    t.repo.put(record('j2', {}, { desired: 'stopped' }));
    await t.rec.reconcileOnce();
    t.fake.reboot();
    t.restart();
    t.events.length = 0;
    await t.rec.reconcileOnce();
    assert.deepEqual(types(t.events), ['recovered:j1'], 'only the desired-running job comes back');
    assert.equal(t.fake.startsOf('fake:j1'), 2);
    assert.equal(t.repo.get('j1')!.state, 'running');
  });

  it('restarts an instance killed from outside with exponential back-off, capped, and resets after healthy uptime', async () => {
    const t = rig({ restartBackoffInitialMs: 1_000, restartBackoffMaxMs: 4_000, backoffResetAfterMs: 60_000 });
    t.repo.put(record('j1'));
    await t.rec.reconcileOnce();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      t.fake.crash('fake:j1');
      t.events.length = 0;
      await t.rec.reconcileOnce();
      const sched = t.events.find((e) => e.type === 'restart-scheduled');
      assert.ok(sched, `crash ${i + 1} must schedule a restart`);
      delays.push(sched.delayMs!);
      const starts = t.fake.startsOf('fake:j1');
      t.clock.advance(sched.delayMs! - 1);
      await t.rec.reconcileOnce();
      assert.equal(t.fake.startsOf('fake:j1'), starts, `no restart before the back-off (${sched.delayMs} ms) has passed`);
      t.clock.advance(1);
      await t.rec.reconcileOnce();
      assert.equal(t.fake.startsOf('fake:j1'), starts + 1, 'restarted once the back-off passed');
      assert.ok(t.events.some((e) => e.type === 'restarted' && e.attempt === i + 1), `restart event with attempt ${i + 1}`);
    }
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 4_000], 'delays double and stop at the cap');
    // Healthy for a minute: the next crash starts from the initial delay again.
    t.clock.advance(60_000);
    await t.rec.reconcileOnce();
    t.fake.crash('fake:j1');
    t.events.length = 0;
    await t.rec.reconcileOnce();
    assert.equal(t.events.find((e) => e.type === 'restart-scheduled')?.delayMs, 1_000, 'back-off resets after healthy uptime');
  });

  it('marks the job failed with the driver message and destroys what a failed start left', async () => {
    const t = rig();
    t.fake.failNext('start', 'DRIVER_START_FAILED', 'qemu: could not open disk');
    t.repo.put(record('j1'));
    await t.rec.reconcileOnce();
    const r = t.repo.get('j1')!;
    assert.equal(r.state, 'failed');
    assert.equal(r.reason, 'qemu: could not open disk', 'the driver message is the reason');
    assert.equal(r.driverRef, undefined, 'no ref to a destroyed instance');
    assert.equal(t.fake.size, 0, 'nothing half-created remains');
    assert.deepEqual(types(t.events), ['failed:j1']);
    assert.equal(t.events[0]!.code, 'DRIVER_START_FAILED');
    await t.rec.reconcileOnce();
    assert.equal(t.fake.calls.create, 1, 'a failed job is not retried until its owner acts');
  });

  it('marks a job failed when its driver is not on this host', async () => {
    const t = rig();
    t.repo.put(record('j1', {}, { driver: 'libvirt' }));
    await t.rec.reconcileOnce();
    assert.equal(t.repo.get('j1')!.state, 'failed');
    assert.match(t.repo.get('j1')!.reason!, /driver libvirt is not available/);
  });

  it('stops for desired stopped and destroys for desired deleted', async () => {
    const t = rig();
    t.repo.put(record('j1'));
    t.repo.put(record('j2'));
    await t.rec.reconcileOnce();
    t.repo.put({ ...t.repo.get('j1')!, desired: 'stopped' });
    t.repo.put({ ...t.repo.get('j2')!, desired: 'deleted' });
    t.events.length = 0;
    await t.rec.reconcileOnce();
    assert.deepEqual(types(t.events).sort(), ['destroyed:j2', 'stopped:j1', 'stopped:j2'], 'deleting a running job stops it first');
    assert.equal(await t.fake.status('fake:j1'), 'stopped');
    assert.equal(await t.fake.status('fake:j2'), 'missing', 'deleted → destroyed');
    assert.equal(t.repo.get('j1')!.state, 'stopped');
    assert.equal(t.repo.get('j2')!.reason, 'deleted');
    assert.equal(t.repo.get('j2')!.driverRef, undefined, 'the ref of a destroyed instance is cleared');
    t.events.length = 0;
    await t.rec.reconcileOnce();
    assert.deepEqual(t.events, [], 'settled jobs produce no more events');
  });

  describe('restart policy of process jobs', () => {
    const cases: { policy: 'never' | 'on-failure' | 'always'; exit: number | 'oom'; expect: 'failed' | 'stopped' | 'restart' }[] = [
      { policy: 'never', exit: 1, expect: 'failed' },
      { policy: 'never', exit: 0, expect: 'stopped' },
      { policy: 'never', exit: 'oom', expect: 'failed' },
      { policy: 'on-failure', exit: 0, expect: 'stopped' },
      { policy: 'on-failure', exit: 1, expect: 'restart' },
      { policy: 'on-failure', exit: 'oom', expect: 'restart' },
      { policy: 'always', exit: 0, expect: 'restart' },
    ];
    for (const c of cases) {
      it(`${c.policy}, ${c.exit === 'oom' ? 'OOM-killed' : `exit ${c.exit}`} → ${c.expect}`, async () => {
        const t = rig();
        t.repo.put(record('p1', { kind: 'process', restart: c.policy }));
        await t.rec.reconcileOnce();
        if (c.exit === 'oom') t.fake.crash('fake:p1', { oomKilled: true, reason: 'OOM-killed: exceeded its memory limit of 256 MiB' });
        else t.fake.exit('fake:p1', c.exit);
        t.events.length = 0;
        await t.rec.reconcileOnce();
        const r = t.repo.get('p1')!;
        if (c.expect === 'restart') {
          assert.equal(t.events[0]?.type, 'restart-scheduled', `expected a scheduled restart, got ${types(t.events)}`);
        } else {
          assert.equal(r.state, c.expect);
          assert.equal(t.events[0]?.type, 'exited');
          if (c.exit === 'oom') assert.match(r.reason!, /OOM-killed/, 'the OOM kill is the reason');
          else assert.equal(r.reason, `exited with code ${c.exit}`);
          await t.rec.reconcileOnce();
          assert.equal(t.fake.startsOf('fake:p1'), 1, 'never restarted');
        }
      });
    }

    it('a process that vanished with the host (no exit status) comes back whatever the policy', async () => {
      const t = rig();
      t.repo.put(record('p1', { kind: 'process', restart: 'never' }));
      await t.rec.reconcileOnce();
      t.fake.reboot();
      t.restart();
      await t.rec.reconcileOnce();
      assert.equal(t.fake.startsOf('fake:p1'), 2, 'recovered after reboot');
    });
  });

  it('leaves a driver\'s jobs alone when its list fails: no duplicate creates', async () => {
    const t = rig();
    t.repo.put(record('j1'));
    await t.rec.reconcileOnce();
    t.fake.failNext('list', 'DRIVER_UNAVAILABLE', 'libvirtd is down');
    const rep = await t.rec.reconcileOnce();
    assert.equal(rep.driverListErrors, 1);
    assert.equal(t.fake.calls.create, 1, 'no create while the driver cannot list');
    assert.equal(t.repo.get('j1')!.state, 'running', 'the record is untouched');
  });

  it('reconciles only this host\'s records, and stops a copy of a job re-placed elsewhere', async () => {
    const t = rig();
    t.repo.put(record('mine'));
    t.repo.put(record('theirs', {}, { host: 'host-b' }));
    await t.rec.reconcileOnce();
    assert.equal(t.fake.calls.create, 1, 'only this host\'s job was created');
    // The job is re-placed to host-b; our copy is stale.
    t.repo.put({ ...t.repo.get('mine')!, host: 'host-b', epoch: 2 });
    t.events.length = 0;
    await t.rec.reconcileOnce();
    assert.deepEqual(types(t.events), ['fenced:mine']);
    assert.equal(await t.fake.status('fake:mine'), 'stopped', 'the stale copy is stopped');
  });

  it('imports unknown instances only when the flag is on, once each', async () => {
    const off = rig({ importUnknown: false });
    off.fake.addForeign('fake:legacy', 'legacy-db');
    await off.rec.reconcileOnce();
    assert.equal(off.imported.length, 0, 'no import with the flag off');
    const recs = await off.rec.importInstances();
    assert.equal(recs.length, 1, 'the explicit import still works');

    const on = rig({ importUnknown: true });
    on.fake.addForeign('fake:legacy', 'legacy-db');
    await on.rec.reconcileOnce();
    await on.rec.reconcileOnce();
    assert.equal(on.imported.length, 1, 'imported once, then known by its ref');
    assert.equal(on.imported[0]!.instance.name, 'legacy-db');
    assert.equal(on.imported[0]!.driver, 'fake');
    assert.equal(on.fake.startsOf('fake:legacy'), 1, 'import adopts: it does not restart the instance');
    assert.ok(on.events.some((e) => e.type === 'imported'));
  });

  it('imports an instance seen shut off only when the next pass still sees it so (define, then start, is two commands)', async () => {
    const t = rig({ importUnknown: true });
    t.fake.addForeign('fake:vm', 'being-started', 'stopped');
    await t.rec.reconcileOnce();
    assert.equal(t.imported.length, 0, 'not imported on the first sighting while shut off');
    await t.fake.start('fake:vm');
    await t.rec.reconcileOnce();
    assert.equal(t.imported.length, 1, 'imported once it runs');
    assert.equal(t.imported[0]!.instance.state, 'running', 'as running, so nothing stops it');

    t.fake.addForeign('fake:cold', 'kept-off', 'stopped');
    await t.rec.reconcileOnce();
    assert.equal(t.imported.length, 1, 'a shut-off instance waits one pass');
    await t.rec.reconcileOnce();
    assert.equal(t.imported.length, 2, 'and is imported when the next pass still sees it shut off');
    assert.equal(t.imported[1]!.instance.state, 'stopped');

    const asked = rig({ importUnknown: false });
    asked.fake.addForeign('fake:off', 'asked-for', 'stopped');
    assert.equal((await asked.rec.importInstances()).length, 1, 'an import the operator asks for takes a shut-off instance at once');
  });

  it('runs passes on its Clock: first at start, then every interval, sooner when a restart falls due', async () => {
    const t = rig({ intervalMs: 5_000, restartBackoffInitialMs: 1_000 });
    t.repo.put(record('j1'));
    t.rec.start();
    t.clock.advance(0);
    await waitFor(() => t.repo.get('j1')!.state === 'running', 'the first pass starts the job');
    await waitFor(() => t.clock.pendingDelays()[0] === 5_000, 'the next pass is one interval away');
    t.fake.crash('fake:j1');
    t.clock.advance(5_000);
    await waitFor(() => t.events.some((e) => e.type === 'restart-scheduled'), 'the crash is seen');
    await waitFor(() => t.clock.pendingDelays()[0] === 1_000, 'the next pass is when the restart is due');
    t.clock.advance(1_000);
    await waitFor(() => t.events.some((e) => e.type === 'restarted'), 'restarted on time');
    await t.rec.stop();
    assert.deepEqual(t.clock.pendingDelays(), [], 'stop cancels the timer');
  });

  it('meters running time through the reconciler without double counting across restarts', async () => {
    const usage = new InMemoryUsageRepository();
    const metering = new Metering(defaultMeteringOptions, { repository: usage, metrics: null });
    const t = rig({}, undefined, metering);
    t.repo.put(record('j1', { tenant: 'acme' }));
    await t.rec.reconcileOnce(); // starts at T
    for (let i = 0; i < 6; i++) {
      t.clock.advance(5_000);
      await t.rec.reconcileOnce();
    }
    t.restart(); // agent restart while it runs
    t.clock.advance(5_000);
    await t.rec.reconcileOnce();
    await t.rec.reconcileOnce(); // same instant: adds nothing
    t.repo.put({ ...t.repo.get('j1')!, desired: 'stopped' });
    t.clock.advance(2_500);
    await t.rec.reconcileOnce();
    t.clock.advance(10_000); // stopped time is not metered
    await t.rec.reconcileOnce();
    const rows = await metering.report({ groupBy: 'tenant' });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.tenant, 'acme');
    assert.equal(rows[0]!.runningSeconds, 37.5, 'ran 6×5 s + 5 s + 2.5 s');
    assert.equal(rows[0]!.vcpuSeconds, 75, '2 vCPUs');
    assert.equal(rows[0]!.memoryMiBSeconds, 37.5 * 256, '256 MiB');
  });
});

async function waitFor(test: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

export type { JobRecord };
