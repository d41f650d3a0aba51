import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import si from 'systeminformation';
import { HostFactsReader } from '../../../src/host/facts.ts';

describe('HostFactsReader', () => {
  const original = { cpu: si.cpu, osInfo: si.osInfo };
  afterEach(() => {
    si.cpu = original.cpu;
    si.osInfo = original.osInfo;
  });

  it('reads the CPU and OS once (they spawn tools), memory and disk on every call', async () => {
    let cpuReads = 0;
    let osReads = 0;
    si.cpu = ((...args: Parameters<typeof si.cpu>) => (cpuReads++, original.cpu(...args))) as typeof si.cpu;
    si.osInfo = ((...args: Parameters<typeof si.osInfo>) => (osReads++, original.osInfo(...args))) as typeof si.osInfo;
    const reader = new HostFactsReader(tmpdir());
    const first = await reader.read();
    const second = await reader.read();
    await reader.read();
    assert.equal(cpuReads, 1, 'si.cpu read once');
    assert.equal(osReads, 1, 'si.osInfo read once');
    assert.ok(first.cpuCores >= 1 && first.memoryMiB > 0 && first.diskGiB > 0, `real facts: ${JSON.stringify(first)}`);
    assert.equal(second.os, first.os, 'the cached OS is reported');
    assert.equal(second.cpuCores, first.cpuCores, 'the cached core count is reported');
  });

  it('does not keep a failed read: the next call tries again', async () => {
    let cpuReads = 0;
    si.cpu = ((...args: Parameters<typeof si.cpu>) => {
      cpuReads++;
      return cpuReads === 1 ? Promise.reject(new Error('lscpu failed')) : original.cpu(...args);
    }) as typeof si.cpu;
    const reader = new HostFactsReader(tmpdir());
    await assert.rejects(reader.read(), /lscpu failed/);
    const facts = await reader.read();
    assert.equal(cpuReads, 2, 'the second call read the CPU again');
    assert.ok(facts.cpuCores >= 1);
  });
});
