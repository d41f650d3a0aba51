import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { ShoalError } from '../../../src/core/errors.ts';
import { IDENTITY_FILE_NAME, loadOrCreateIdentity } from '../../../src/net/identity.ts';
import { Libp2pTransport } from '../../../src/net/libp2p-transport.ts';
import { testNetOptions } from './libp2p-harness.ts';

const isCode = (code: string) => (e: unknown): boolean => e instanceof ShoalError && e.code === code;

describe('node identity', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-id-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a 0600 Ed25519 key once and loads the same one afterwards', async () => {
    const dataDir = join(dir, 'data');
    const first = await loadOrCreateIdentity(dataDir);
    assert.equal(first.created, true, 'first call creates the key');
    assert.equal(first.privateKey.type, 'Ed25519', 'key type');
    assert.equal((await stat(first.path)).mode & 0o777, 0o600, 'identity file must be mode 0600');
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700, 'a created data dir is private');
    const second = await loadOrCreateIdentity(dataDir);
    assert.equal(second.created, false, 'second call loads');
    assert.equal(second.peerId, first.peerId, 'peer id must survive a reload');
  });

  it('keeps the peer id across a real libp2p restart', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const identity = await loadOrCreateIdentity(dir);
      const t = await Libp2pTransport.create(testNetOptions, { privateKey: identity.privateKey, swarmKey: null, metrics: null });
      await t.start();
      ids.push(t.self);
      assert.ok(t.listenAddrs().every((a) => a.endsWith(`/p2p/${identity.peerId}`)), 'listen addrs carry the persisted peer id');
      await t.stop();
    }
    assert.equal(ids[0], ids[1], 'restarted node must have the same peer id');
  });

  it('refuses a key file readable by others', async () => {
    const { path } = await loadOrCreateIdentity(dir);
    await chmod(path, 0o644);
    await assert.rejects(loadOrCreateIdentity(dir), isCode('NET_IDENTITY_PERMISSIONS'), 'mode 0644 must be refused');
  });

  it('reports a corrupt or foreign key file precisely and never overwrites it', async () => {
    const path = join(dir, IDENTITY_FILE_NAME);
    await writeFile(path, new Uint8Array([1, 2, 3, 4, 5]), { mode: 0o600 });
    await assert.rejects(loadOrCreateIdentity(dir), isCode('NET_IDENTITY_CORRUPT'), 'garbage must be NET_IDENTITY_CORRUPT');
    await writeFile(path, privateKeyToProtobuf(await generateKeyPair('secp256k1')), { mode: 0o600 });
    await assert.rejects(loadOrCreateIdentity(dir), (e: unknown) => isCode('NET_IDENTITY_CORRUPT')(e) && (e as ShoalError).details['keyType'] === 'secp256k1', 'a secp256k1 key is refused');
    await writeFile(path, new Uint8Array(10_000), { mode: 0o600 });
    await assert.rejects(loadOrCreateIdentity(dir), isCode('NET_IDENTITY_CORRUPT'), 'an oversized file is refused');
    assert.equal((await stat(path)).size, 10_000, 'the bad file is left for the operator to inspect');
  });
});
