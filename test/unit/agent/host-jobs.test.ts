import assert from 'node:assert/strict';
import type { AdmitResult } from '../../../src/placement/index.ts';
import { EventBus, defaultEventBusOptions } from '../../../src/agent/event-bus.ts';
import { HostJobs, specDigest } from '../../../src/agent/host-jobs.ts';
import { parseJobSpec } from '../../../src/agent/job-service.ts';
import { JobStore } from '../../../src/store/index.ts';
import { useTempStore } from '../../helpers/temp-store.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { ManualClock } from '../net/fakes.ts';

const PROFILE = { cluster: 'c', zone: 'z', labels: {}, drivers: ['fake'] as const, capacity: { vcpus: 8, memoryMiB: 8192, diskGiB: 100 }, health: 'ok', draining: false } as const;

describe('HostJobs admission (real level store on disk)', () => {
  const t = useTempStore();

  it('answers an admission, first or re-placed, only once its copies are confirmed', async () => {
    const clock = new ManualClock();
    const jobs = new HostJobs({ self: 'me', store: new JobStore(t.store), clock, events: new EventBus(defaultEventBusOptions, { now: () => clock.now() }), profile: () => PROFILE });
    await jobs.load();
    const confirmations: { jobId: string; epoch: number; release: () => void }[] = [];
    jobs.confirmCopiesWith((jobId, epoch) => new Promise<void>((release) => confirmations.push({ jobId, epoch, release })));
    const admit = (jobId: string, epoch: number): Promise<AdmitResult> => {
      const spec = parseJobSpec({ name: jobId, kind: 'vm', resources: { vcpus: 1, memoryMiB: 64 }, idempotencyKey: jobId });
      return new Promise((resolve) => jobs.admission.admit({ jobId, epoch, spec, specDigest: specDigest(spec) }, clock.now(), resolve));
    };

    for (const [jobId, epoch] of [['first', 1], ['moved', 2]] as const) {
      let answered = false;
      const admitted = admit(jobId, epoch).then((r) => ((answered = true), r));
      const asked = confirmations.length + 1;
      await waitFor(() => confirmations.length === asked, { timeoutMs: 5_000, what: `the confirmation of ${jobId} asked for after the store write`, intervalMs: 1 });
      assert.deepEqual([confirmations.at(-1)!.jobId, confirmations.at(-1)!.epoch], [jobId, epoch]);
      assert.equal(answered, false, `${jobId}: not answered before the copies are confirmed`);
      assert.equal((await new JobStore(t.store).get(jobId))?.epoch, epoch, `${jobId}: persisted before the wait`);
      confirmations.at(-1)!.release();
      assert.equal((await admitted).type, 'accepted');
    }
  });
});
