import assert from 'node:assert/strict';
import { CLOSED_POLICY, acceptsCluster, decideAdmission, hasQuota, type FederationPolicy } from '../../../src/federation/index.ts';

const ZERO = { cluster: { vcpus: 0, memoryMiB: 0 }, tenant: { vcpus: 0, memoryMiB: 0 } };
const job = (tenant: string, vcpus = 4, memoryMiB = 8192) => ({ local: 'b', origin: 'a', tenant, resources: { vcpus, memoryMiB, diskGiB: 0 } });

const policy: FederationPolicy = {
  acceptClusters: ['a', 'c'],
  allowTenants: ['*'],
  denyTenants: ['acme'],
  clusters: { c: { allowTenants: ['web'] }, a: { maxVcpus: 16, maxMemoryMiB: 65536, denyTenants: ['batch'] } },
  tenants: { small: { maxVcpus: 4 } },
};

describe('federation: local policy', () => {
  it('accepts nothing by default (a cluster lends capacity only when its operator says so)', () => {
    const d = decideAdmission(CLOSED_POLICY, job('web'), ZERO);
    assert.equal(d.ok, false);
    assert.equal(!d.ok && d.message, 'cluster b does not accept jobs from cluster a');
    assert.equal(acceptsCluster(CLOSED_POLICY, 'a'), false);
  });

  it('"*" accepts every allowlisted cluster', () => {
    assert.equal(acceptsCluster({ ...CLOSED_POLICY, acceptClusters: ['*'] }, 'zz'), true);
  });

  it('refuses a denied tenant with the exact reason', () => {
    const d = decideAdmission(policy, job('acme'), ZERO);
    assert.deepEqual(d, { ok: false, code: 'FEDERATION_DENIED', refusal: 'tenant', message: 'cluster b does not accept tenant acme from cluster a' });
  });

  it('a cluster rule adds denied tenants and can replace the allowed ones', () => {
    assert.equal(decideAdmission(policy, job('batch'), ZERO).ok, false, 'batch is denied for cluster a only');
    assert.equal(decideAdmission(policy, { ...job('batch'), origin: 'c' }, ZERO).ok, false, 'cluster c allows only web');
    assert.equal(decideAdmission(policy, { ...job('web'), origin: 'c' }, ZERO).ok, true, 'web from c is allowed');
    assert.equal(decideAdmission(policy, job('web'), ZERO).ok, true, 'web from a is allowed');
  });

  it('a cluster quota counts what that cluster already uses', () => {
    const used = { cluster: { vcpus: 14, memoryMiB: 1024 }, tenant: { vcpus: 0, memoryMiB: 0 } };
    const d = decideAdmission(policy, job('web', 4), used);
    assert.equal(d.ok, false);
    assert.equal(!d.ok && d.code, 'FEDERATION_QUOTA_EXCEEDED');
    assert.equal(!d.ok && d.message, "cluster b's quota for cluster a would be exceeded: 14 of 16 vCPUs in use, the job needs 4");
    assert.equal(decideAdmission(policy, job('web', 2), used).ok, true, 'exactly at the quota is allowed');
    const mem = decideAdmission(policy, job('web', 1, 65536), used);
    assert.ok(!mem.ok && mem.message.includes('MiB memory'), 'memory quota is checked too');
  });

  it('a tenant quota applies whichever cluster the job comes from', () => {
    const used = { cluster: { vcpus: 0, memoryMiB: 0 }, tenant: { vcpus: 3, memoryMiB: 0 } };
    const d = decideAdmission(policy, job('small', 2), used);
    assert.ok(!d.ok && d.refusal === 'tenant-quota' && d.message === "cluster b's quota for tenant small would be exceeded: 3 of 4 vCPUs in use, the job needs 2", JSON.stringify(d));
  });

  it('tenant and cluster names that are Object properties are plain names', () => {
    assert.equal(hasQuota(policy, 'constructor', 'toString'), false, 'no inherited record entry may act as a rule');
    assert.equal(decideAdmission({ ...policy, acceptClusters: ['*'] }, { ...job('constructor'), origin: '__proto__' }, ZERO).ok, true);
  });

  it('hasQuota says when usage must be counted', () => {
    assert.equal(hasQuota(policy, 'a', 'web'), true);
    assert.equal(hasQuota(policy, 'c', 'small'), true);
    assert.equal(hasQuota(policy, 'c', 'web'), false);
  });
});
