import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load.ts';
import { federationOptions } from '../../../src/federation/index.ts';

const PEER = '12D3KooWNteGdcVyBzfKmcWyKqvLucM5cwNj71Sk9eYfhBBtmS6j';
const OTHER = '12D3KooWRdSQCWWxGwUa8tgKBEGg3gCzpw19WJrCpu34j6nFm7rb';

describe('federation: [federation] config section', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'shoal-fedcfg-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function load(toml: string) {
    const file = join(dir, 'shoal.toml');
    writeFileSync(file, toml);
    return loadConfig({ file });
  }

  it('defaults to no federation: no gateway, nothing accepted', () => {
    const f = load('').federation;
    assert.equal(f.gateway, false);
    assert.deepEqual(f.gateways, []);
    assert.deepEqual(f.policy.acceptClusters, [], 'a cluster accepts no remote job unless told to');
  });

  it('reads snake_case keys everywhere, also inside per-cluster and per-tenant tables', () => {
    const f = load(
      [
        'cluster = "a"',
        '[federation]',
        'gateway = true',
        `peers = ["/ip4/127.0.0.1/tcp/7947/p2p/${PEER}"]`,
        `gateways = ["/ip4/127.0.0.1/tcp/7946/p2p/${OTHER}"]`,
        '[federation.clusters.b]',
        `gateways = ["${PEER}"]`,
        '[federation.policy]',
        'accept_clusters = ["b"]',
        'deny_tenants = ["acme"]',
        '[federation.policy.clusters.b]',
        'max_vcpus = 24',
        'max_memory_mib = 65536',
        'allow_tenants = ["web"]',
        '[federation.policy.tenants.acme]',
        'max_vcpus = 2',
      ].join('\n'),
    ).federation;
    assert.deepEqual(f.clusters, { b: { gateways: [PEER] } });
    assert.deepEqual(f.policy.clusters.b, { maxVcpus: 24, maxMemoryMiB: 65536, allowTenants: ['web'] });
    assert.deepEqual(f.policy.tenants.acme, { maxVcpus: 2 });
    assert.deepEqual(f.policy.denyTenants, ['acme']);
  });

  for (const [what, toml, key] of [
    ['an unknown key in a per-tenant table', '[federation.policy.tenants.acme]\nmax_cpus = 2', 'federation.policy.tenants.acme.max_cpus'],
    ['a peer that is in no allowlist', `[federation]\npeers = ["/ip4/127.0.0.1/tcp/7947/p2p/${PEER}"]`, 'federation.peers.0'],
    ['a peer address without /p2p/', '[federation]\npeers = ["/ip4/127.0.0.1/tcp/7947"]', 'federation.peers.0'],
    ['a bad cluster name in the allowlist', `[federation.clusters.B]\ngateways = ["${PEER}"]`, 'federation.clusters'],
    ['an allowlist entry that is not a peer id', '[federation.clusters.b]\ngateways = ["not-a-peer"]', 'federation.clusters.b.gateways.0'],
  ] as const) {
    it(`refuses ${what}, naming the key`, () => {
      assert.throws(
        () => load(toml),
        (err: unknown) => (err as { code?: string }).code === 'CONFIG_INVALID' && (err as Error).message.includes(key),
        `expected CONFIG_INVALID naming ${key}`,
      );
    });
  }

  it('federation options reject a remote timeout longer than the burst budget', () => {
    assert.throws(() => federationOptions({ remoteRequestTimeoutMs: 20_000 }), /must not exceed burstBudgetMs/);
    assert.throws(() => federationOptions({ summaryIntervalMs: 0 }), /summaryIntervalMs must be a positive number/);
  });
});
