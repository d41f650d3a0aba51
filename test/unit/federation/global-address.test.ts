import assert from 'node:assert/strict';
import { FederationError, globalAddress, isRemote, parseGlobalAddress } from '../../../src/federation/index.ts';

describe('federation: global addresses', () => {
  it('parses ID@cluster and a bare ID', () => {
    assert.deepEqual(parseGlobalAddress('01m816ksef1p06wmwdq0jf@b'), { id: '01m816ksef1p06wmwdq0jf', cluster: 'b' });
    assert.deepEqual(parseGlobalAddress('01m816ksef1p06wmwdq0jf'), { id: '01m816ksef1p06wmwdq0jf', cluster: undefined });
    assert.deepEqual(parseGlobalAddress('12D3KooWRdSQCWWxGwUa8tgKBEGg3gCzpw19WJrCpu34j6nFm7rb@site-2'), { id: '12D3KooWRdSQCWWxGwUa8tgKBEGg3gCzpw19WJrCpu34j6nFm7rb', cluster: 'site-2' });
  });

  it('formats what it parses', () => {
    const text = globalAddress('abc', 'east-1');
    assert.equal(text, 'abc@east-1');
    assert.deepEqual(parseGlobalAddress(text), { id: 'abc', cluster: 'east-1' });
  });

  for (const [text, why] of [
    ['@b', 'an empty id'],
    ['abc@', 'an empty cluster'],
    ['abc@B', 'an upper-case cluster'],
    ['abc@b@c', 'two @'],
    ['a/b@c', 'a slash in the id'],
    ['abc@-b', 'a cluster starting with -'],
    [`${'x'.repeat(101)}@b`, 'an id over 100 characters'],
  ] as const) {
    it(`refuses ${why} with FEDERATION_INVALID_ADDRESS`, () => {
      assert.throws(
        () => parseGlobalAddress(text),
        (err: unknown) => err instanceof FederationError && err.code === 'FEDERATION_INVALID_ADDRESS' && err.message.includes('is not an address'),
        `"${text.slice(0, 40)}" must be refused as an address`,
      );
    });
  }

  it('an address is remote only when it names another cluster', () => {
    assert.equal(isRemote(parseGlobalAddress('x@b'), 'a'), true);
    assert.equal(isRemote(parseGlobalAddress('x@a'), 'a'), false, 'own cluster is local');
    assert.equal(isRemote(parseGlobalAddress('x'), 'a'), false, 'a bare id is local');
  });
});
