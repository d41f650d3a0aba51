import assert from 'node:assert/strict';
import type { JobSpec } from '../../../src/core/job.ts';
import type { Driver } from '../../../src/host/driver.ts';
import { isDriverError } from '../../../src/host/driver-errors.ts';

/**
 * One contract, every driver: the same lifecycle checks run against the fake, qemu, libvirt
 * and process drivers, the way js-libp2p's interface-compliance-tests run one suite
 * against every transport.
 */
export interface ComplianceTarget {
  driver: Driver;
  dataDir: string;
  spec: JobSpec;
  /** A well-formed ref that names nothing. */
  unknownRef: string;
  /** A spec this driver must refuse (wrong kind); omitted for drivers that run anything. */
  wrongSpec?: JobSpec;
  /** A job id prefix unique to the run (libvirt domains are host-global). */
  jobPrefix: string;
}

export function driverComplianceSuite(title: string, setup: () => Promise<ComplianceTarget> | ComplianceTarget, teardown: () => Promise<void> | void): void {
  describe(`driver compliance: ${title}`, function () {
    this.timeout(60_000);
    let t: ComplianceTarget;

    beforeEach(async function () {
      t = await setup();
    });
    afterEach(async () => {
      await teardown();
    });

    it('create → stopped and listed with its job id; start → running; start again → same single instance', async () => {
      const jobId = `${t.jobPrefix}c1`;
      const { ref } = await t.driver.create({ jobId, name: 'c1', spec: t.spec, dataDir: t.dataDir });
      assert.equal(await t.driver.status(ref), 'stopped', 'created, not started');
      const listed = (await t.driver.list()).filter((i) => i.jobId === jobId);
      assert.equal(listed.length, 1, 'listed once with its job id');
      assert.equal(listed[0]!.ref, ref);
      await t.driver.start(ref);
      assert.equal(await t.driver.status(ref), 'running');
      await t.driver.start(ref);
      assert.equal((await t.driver.list()).filter((i) => i.jobId === jobId).length, 1, 'still one instance after a second start');
      const stats = await t.driver.stats(ref);
      assert.ok(stats.cpuSeconds !== undefined || stats.memoryBytes !== undefined, `a running instance has stats: ${JSON.stringify(stats)}`);
      await t.driver.destroy(ref);
    });

    it('stop → stopped (twice is fine); destroy → missing and unlisted (twice is fine)', async () => {
      const jobId = `${t.jobPrefix}c2`;
      const { ref } = await t.driver.create({ jobId, name: 'c2', spec: t.spec, dataDir: t.dataDir });
      await t.driver.start(ref);
      await t.driver.stop(ref, { graceMs: 200 });
      assert.equal(await t.driver.status(ref), 'stopped');
      await t.driver.stop(ref, { graceMs: 200 });
      await t.driver.destroy(ref);
      assert.equal(await t.driver.status(ref), 'missing');
      assert.equal((await t.driver.list()).filter((i) => i.jobId === jobId).length, 0, 'gone from the list');
      await t.driver.destroy(ref);
    });

    it('refuses a duplicate create and, where it applies, a job of the wrong kind', async () => {
      const jobId = `${t.jobPrefix}c3`;
      const { ref } = await t.driver.create({ jobId, name: 'c3', spec: t.spec, dataDir: t.dataDir });
      await assert.rejects(t.driver.create({ jobId, name: 'c3', spec: t.spec, dataDir: t.dataDir }), (e: unknown) => isDriverError(e, 'DRIVER_ALREADY_EXISTS'));
      if (t.wrongSpec) {
        await assert.rejects(t.driver.create({ jobId: `${t.jobPrefix}c3w`, name: 'w', spec: t.wrongSpec, dataDir: t.dataDir }), (e: unknown) => isDriverError(e, 'DRIVER_INVALID_JOB'));
      }
      await t.driver.destroy(ref);
    });

    it('reports an unknown ref as missing, and fails fast on an aborted signal', async () => {
      assert.equal(await t.driver.status(t.unknownRef), 'missing');
      const ac = new AbortController();
      ac.abort();
      for (const call of [() => t.driver.list({ signal: ac.signal }), () => t.driver.status(t.unknownRef, { signal: ac.signal }), () => t.driver.probe({ signal: ac.signal })]) {
        await assert.rejects(call(), (e: unknown) => isDriverError(e, 'DRIVER_ABORTED'), 'an aborted call must reject with DRIVER_ABORTED');
      }
    });
  });
}
