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

  it('answers a re-placement (epoch > 1) only once its copies are confirmed, a first placement at once', async () => {
    const clock = new ManualClock();
    const jobs = new HostJobs({ self: 'me', store: new JobStore(t.store), clock, events: new EventBus(defaultEventBusOptions, { now: () => clock.now() }), profile: () => PROFILE });
    await jobs.load();
    const confirmations: { jobId: string; epoch: number; release: () => void }[] = [];
    jobs.confirmCopiesWith((jobId, epoch) => new Promise<void>((release) => confirmations.push({ jobId, epoch, release })));
    const admit = (jobId: string, epoch: number): Promise<AdmitResult> => {
      const spec = parseJobSpec({ name: jobId, kind: 'vm', resources: { vcpus: 1, memoryMiB: 64 }, idempotencyKey: jobId });
      return new Promise((resolve) => jobs.admission.admit({ jobId, epoch, spec, specDigest: specDigest(spec) }, clock.now(), resolve));
    };

    assert.equal((await admit('first', 1)).type, 'accepted');
    assert.equal(confirmations.length, 0, 'a first placement does not wait for replicas');

    let answered = false;
    const replaced = admit('moved', 2).then((r) => ((answered = true), r));
    await waitFor(() => confirmations.length === 1, { timeoutMs: 5_000, what: 'the confirmation asked for after the store write', intervalMs: 1 });
    assert.deepEqual([confirmations[0]!.jobId, confirmations[0]!.epoch], ['moved', 2]);
    assert.equal(answered, false, 'not answered before the copies are confirmed');
    assert.equal((await new JobStore(t.store).get('moved'))?.epoch, 2, 'persisted before the wait');
    confirmations[0]!.release();
    assert.equal((await replaced).type, 'accepted');
  });
});
