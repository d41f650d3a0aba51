import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from '@libp2p/pnet';
import { ShoalError } from '../../../src/core/errors.ts';
import { formatSwarmKey, generateSwarmKey, parseSwarmKey, readSwarmKeyFile, writeSwarmKeyFile } from '../../../src/net/swarm-key.ts';

const HEX = 'a1'.repeat(16) + '0f'.repeat(16);
const good = `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\n`;

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ShoalError, `expected a ShoalError, got ${String(err)}`);
    assert.equal(err.code, 'NET_SWARM_KEY_INVALID', `expected NET_SWARM_KEY_INVALID, got ${err.code}`);
    return String(err.details['reason']);
  }
  assert.fail('expected parseSwarmKey to throw');
}

describe('swarm key', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-swarm-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('generates keys in the standard format that parse back to 32 random bytes', () => {
    const a = generateSwarmKey();
    const b = generateSwarmKey();
    const text = new TextDecoder().decode(a);
    assert.match(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/, 'file text must be header, codec, 64 hex chars');
    assert.equal(parseSwarmKey(a).length, 32, 'key is 32 bytes');
    assert.notDeepEqual(parseSwarmKey(a), parseSwarmKey(b), 'two generated keys must differ');
    assert.deepEqual(formatSwarmKey(parseSwarmKey(a)), a, 'format(parse(x)) round-trips');
  });

  it("reads @libp2p/pnet's own generator output", () => {
    const buf = new Uint8Array(95);
    generateKey(buf);
    assert.equal(parseSwarmKey(buf).length, 32, "pnet's key file must parse");
  });

  it('accepts CRLF line endings and trailing blank lines', () => {
    assert.equal(Buffer.from(parseSwarmKey(good.replaceAll('\n', '\r\n') + '\r\n\r\n')).toString('hex'), HEX, 'CRLF key must parse to the same bytes');
    assert.equal(Buffer.from(parseSwarmKey(good.replace(HEX, HEX.toUpperCase()))).toString('hex'), HEX, 'upper-case hex is the same key');
  });

  it('names what is wrong with a malformed key', () => {
    assert.equal(reasonOf(() => parseSwarmKey('')), 'header', 'empty file');
    assert.equal(reasonOf(() => parseSwarmKey(good.replace('/key/swarm/psk/1.0.0/', '/key/swarm/psk/2.0.0/'))), 'header', 'wrong version');
    assert.equal(reasonOf(() => parseSwarmKey(good.replace('/base16/', '/base64/'))), 'codec', 'unsupported codec');
    assert.equal(reasonOf(() => parseSwarmKey(good.replace(HEX, HEX.slice(2)))), 'length', '62 hex chars');
    assert.equal(reasonOf(() => parseSwarmKey(good.replace(HEX, HEX + 'ab'))), 'length', '66 hex chars');
    assert.equal(reasonOf(() => parseSwarmKey(good.replace(HEX, 'zz' + HEX.slice(2)))), 'hex', 'non-hex chars');
    assert.equal(reasonOf(() => parseSwarmKey(good + 'extra\n')), 'trailing', 'extra line');
    assert.equal(reasonOf(() => parseSwarmKey(good.replace(HEX, '0'.repeat(64)))), 'weak', 'all-zero key');
    assert.equal(reasonOf(() => parseSwarmKey('x'.repeat(5000))), 'too_large', 'huge file');
    assert.equal(reasonOf(() => parseSwarmKey(new Uint8Array([0xff, 0xfe, 0x00]))), 'header', 'binary garbage');
  });

  it('writes a 0600 key file, refuses to overwrite it, and reads it back', async () => {
    const path = join(dir, 'swarm.key');
    const text = await writeSwarmKeyFile(path);
    assert.equal((await stat(path)).mode & 0o777, 0o600, 'key file must be mode 0600');
    assert.deepEqual(await readSwarmKeyFile(path), text, 'read returns the written text');
    await assert.rejects(writeSwarmKeyFile(path), (e: unknown) => e instanceof ShoalError && e.code === 'NET_SWARM_KEY_EXISTS', 'second write must refuse');
    assert.deepEqual(new Uint8Array(await readFile(path)), text, 'the existing key is untouched');
  });

  it('reports unreadable and malformed files with the path', async () => {
    await assert.rejects(readSwarmKeyFile(join(dir, 'missing.key')), (e: unknown) => e instanceof ShoalError && e.code === 'NET_SWARM_KEY_INVALID' && e.details['reason'] === 'unreadable', 'missing file');
    const bad = join(dir, 'bad.key');
    await writeFile(bad, 'hello\n');
    await assert.rejects(readSwarmKeyFile(bad), (e: unknown) => e instanceof ShoalError && e.details['path'] === bad && e.message.includes(bad), 'malformed file error names the path');
    await assert.rejects(writeSwarmKeyFile(join(dir, 'no/such/dir/swarm.key')), (e: unknown) => e instanceof ShoalError && e.code === 'NET_KEY_FILE_IO', 'unwritable path');
  });
});
