import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { envVariables, loadConfig } from '../../../src/config/index.ts';
import { tempDir } from '../../helpers/agent-process.ts';

describe('loadConfig', () => {
  it('derives a SHOAL_* variable for every leaf of the schema', () => {
    const names = [...envVariables().keys()];
    for (const expected of ['SHOAL_AGENT_DATA_DIR', 'SHOAL_HOST_RESERVED_MEMORY_MIB', 'SHOAL_HOST_OVERCOMMIT_CPU', 'SHOAL_NET_JOIN', 'SHOAL_LOG_LEVEL', 'SHOAL_CLUSTER']) {
      assert.ok(names.includes(expected), `missing ${expected} in ${names.join(', ')}`);
    }
  });

  it('parses lists and labels from variables', () => {
    const c = loadConfig({ env: { SHOAL_NET_JOIN: '/ip4/127.0.0.1/tcp/1/p2p/x,/ip4/127.0.0.1/tcp/2/p2p/y', SHOAL_HOST_LABELS: 'energy=hydro,rack.id=7' } });
    assert.deepEqual(c.net.join, ['/ip4/127.0.0.1/tcp/1/p2p/x', '/ip4/127.0.0.1/tcp/2/p2p/y']);
    assert.deepEqual(c.host.labels, { energy: 'hydro', 'rack.id': '7' });
  });

  it('keeps label keys as written in TOML while mapping snake_case schema keys', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'c.toml'), '[host]\nlabels = { power_domain = "pd-1" }\nreserved = { vcpus = 2, memory_mib = 512, disk_gib = 1 }\n');
    const c = loadConfig({ file: join(dir, 'c.toml') });
    assert.deepEqual(c.host.labels, { power_domain: 'pd-1' });
    assert.deepEqual(c.host.reserved, { vcpus: 2, memoryMiB: 512, diskGiB: 1 });
  });

  it('ignores SHOAL_ADDR, which belongs to the CLI', () => {
    assert.doesNotThrow(() => loadConfig({ env: { SHOAL_ADDR: 'unix:///x' } }));
  });
});
