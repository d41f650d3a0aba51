import assert from 'node:assert/strict';
import { JobSpecSchema } from '../../../src/core/job.ts';
import { importedJobSpec, jobName } from '../../../src/host/import-spec.ts';

describe('importedJobSpec', () => {
  it('makes any hypervisor name a valid job name', () => {
    assert.equal(jobName('My Web Server (prod)'), 'my-web-server-prod');
    assert.equal(jobName('--DB_01--'), 'db_01');
    assert.equal(jobName('日本'), 'imported', 'nothing usable left → a fixed name');
    assert.equal(jobName('x'.repeat(100)).length, 63);
    for (const raw of ['A', 'a.b', '...', 'ünïcode-vm', ' spaced ']) {
      assert.doesNotThrow(() => JobSpecSchema.shape.name.parse(jobName(raw)), `jobName(${JSON.stringify(raw)}) must satisfy the schema`);
    }
  });

  it('keeps the reported size, pins the driver, and does not evacuate', () => {
    const spec = importedJobSpec({ driver: 'libvirt', seenAtMs: 0, instance: { ref: 'db1', name: 'DB 1', state: 'running', vcpus: 4, memoryMiB: 8192 } }, { tenant: 'ops' });
    assert.equal(spec.name, 'db-1');
    assert.equal(spec.kind, 'vm');
    assert.equal(spec.driver, 'libvirt');
    assert.deepEqual(spec.resources, { vcpus: 4, memoryMiB: 8192, diskGiB: 0 });
    assert.equal(spec.evacuate, false, 'its disks are local and outside Shoal');
    assert.equal(spec.tenant, 'ops');
    assert.equal(spec.labels['shoal.imported'], 'true');
  });

  it('refuses process instances with a precise error', () => {
    assert.throws(
      () => importedJobSpec({ driver: 'process', seenAtMs: 0, instance: { ref: '/d/procs/x', name: 'x', state: 'running' } }),
      (e: unknown) => (e as { code?: string }).code === 'IMPORT_UNSUPPORTED',
    );
  });
});
