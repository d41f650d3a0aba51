import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, curl, startAgent, stopAllAgents, type AgentProcess } from '../../helpers/agent-process.ts';
import { makeTmpDir, requireCommands } from '../drivers/helpers.ts';
import { metricValue, workloadToml } from './helpers.ts';

/**
 * Driver probes through a real agent: a configured driver that does not work on this host
 * (here a `virsh` that fails, first on PATH) is reported with its reason, is not advertised
 * in gossip, and a job that needs it is refused with that reason instead of being placed.
 */
describe('workload e2e: driver probes reach the API, gossip and placement', function () {
  this.timeout(60_000);
  let agent: AgentProcess;

  before(async function () {
    requireCommands(this, 'qemu-system-x86_64', 'qemu-img');
    const dir = makeTmpDir('shoal-wd-');
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'virsh'), '#!/bin/sh\necho "virsh: cannot connect to the hypervisor (test stand-in)" >&2\nexit 1\n');
    chmodSync(join(bin, 'virsh'), 0o755);
    agent = await startAgent({ dir, configToml: workloadToml({ drivers: ['qemu', 'libvirt', 'process'] }), env: { PATH: `${bin}:${process.env.PATH ?? ''}` } });
  });

  after(() => stopAllAgents());

  it('GET /v1/agent/self shows every probe; only the working drivers are advertised', () => {
    const self = curl(agent.socket, 'GET', '/v1/agent/self').body;
    assert.deepEqual(self.drivers, ['qemu', 'process'], 'libvirt is not advertised');
    assert.equal(self.driverProbes.libvirt.available, false);
    assert.match(self.driverProbes.libvirt.reason, /virsh/, `the probe says why: ${self.driverProbes.libvirt.reason}`);
    assert.equal(self.driverProbes.qemu.available, true);
    assert.equal(self.driverProbes.process.available, true);
    assert.match(String(self.driverProbes.process.details.limitMode), /^(systemd|cgroup2|cgroup1|rlimit)$/, 'the process driver says how it limits jobs');
    const member = curl(agent.socket, 'GET', '/v1/agent/members').body[0];
    assert.deepEqual(member.drivers, ['qemu', 'process'], 'the host record placement reads carries only the available drivers');
    assert.equal(metricValue(agent, 'shoal_driver_calls_total', { driver: 'libvirt', op: 'probe' }), 1, 'the libvirt probe is counted in /v1/metrics');
    assert.equal(metricValue(agent, 'shoal_driver_calls_total', { driver: 'libvirt', op: 'list' }), 0, 'an unavailable driver is never used by the reconcile loop');
  });

  it('refuses a job pinned to the unavailable driver, saying so (API 422, CLI exit 2)', () => {
    const spec = { name: 'needs-libvirt', kind: 'vm', driver: 'libvirt', resources: { vcpus: 1, memoryMiB: 64 } };
    const r = curl(agent.socket, 'POST', '/v1/jobs', spec);
    assert.equal(r.status, 422, `a job no host can run is refused: ${r.raw}`);
    assert.equal(r.body.error.code, 'JOB_UNPLACEABLE');
    assert.match(r.body.error.message, /without a suitable driver/, `the refusal names the driver as the reason: ${r.body.error.message}`);
    const c = cli(['submit', '-'], { address: agent.address, input: JSON.stringify(spec) });
    assert.equal(c.code, 2, `shoal submit exits 2 for an unplaceable job: ${c.stderr}`);
    assert.match(c.stderr, /without a suitable driver/);
    assert.deepEqual(curl(agent.socket, 'GET', '/v1/jobs').body, [], 'nothing was created');
  });
});
