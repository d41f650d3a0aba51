import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import {
  EntryRequestSchema,
  FederationError,
  MAX_CLUSTER_BUCKETS,
  RemoteRequestSchema,
  decodeFederationMessage,
  decodeReply,
  encodeFederationMessage,
  outcomeLabel,
  type RemoteRequest,
} from '../../../src/federation/index.ts';
import { FC_SEED, bucket, clusterSummary, fcParams, spec } from './fixtures.ts';

const MAX = 64 * 1024;
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

function badMessage(fn: () => unknown, includes: string): void {
  assert.throws(fn, (err: unknown) => err instanceof FederationError && err.code === 'FEDERATION_BAD_MESSAGE' && err.message.includes(includes), `expected FEDERATION_BAD_MESSAGE mentioning "${includes}"`);
}

describe('federation: wire messages', () => {
  it('round-trips a summary push and a placement request', () => {
    const summary = clusterSummary('b', [bucket({ hosts: 3, free: { vcpus: 8, memoryMiB: 16384 }, labels: ['ssd=true'] })]);
    const push: RemoteRequest = { v: 1, op: 'summary', summary, acceptsYou: true };
    assert.deepEqual(decodeFederationMessage(encodeFederationMessage(push, MAX), RemoteRequestSchema, 'req', MAX), push);
    const place = { v: 1 as const, op: 'place' as const, spec: spec() as unknown as Record<string, unknown> };
    assert.deepEqual(decodeFederationMessage(encodeFederationMessage(place, MAX), RemoteRequestSchema, 'req', MAX), JSON.parse(JSON.stringify(place)));
  });

  it('checks size before anything else', () => {
    const push = { v: 1 as const, op: 'get' as const, id: 'x' };
    badMessage(() => encodeFederationMessage({ ...push, id: 'x'.repeat(100) }, 50), 'over the 50-byte limit');
    badMessage(() => decodeFederationMessage(new Uint8Array(100), RemoteRequestSchema, 'federation request', 50), 'over the 50-byte limit');
  });

  it('refuses garbage, non-maps, other versions and schema violations, naming the field', () => {
    badMessage(() => decodeFederationMessage(new Uint8Array([0x92, 0x01]), RemoteRequestSchema, 'federation request', MAX), 'not valid msgpack');
    badMessage(() => decodeFederationMessage(packr.pack([1, 2]), RemoteRequestSchema, 'federation request', MAX), 'not a map');
    badMessage(() => decodeFederationMessage(packr.pack({ v: 2, op: 'get', id: 'x' }), RemoteRequestSchema, 'federation request', MAX), 'version 2');
    badMessage(() => decodeFederationMessage(packr.pack({ v: 1, op: 'get', id: '' }), RemoteRequestSchema, 'federation request', MAX), 'id');
    badMessage(() => decodeFederationMessage(packr.pack({ v: 1, op: 'explode' }), RemoteRequestSchema, 'federation request', MAX), 'invalid federation request');
    badMessage(() => decodeFederationMessage(packr.pack({ v: 1, op: 'get', cluster: 'B!', id: 'x' }), EntryRequestSchema, 'entry request', MAX), 'cluster');
  });

  it('refuses a summary with too many buckets, a host list smuggled in, or a label filter of the wrong size', () => {
    const many = Array.from({ length: MAX_CLUSTER_BUCKETS + 1 }, (_, i) => bucket({ zone: `z${i}`, hosts: 1, free: { vcpus: 1, memoryMiB: 1024 } }));
    badMessage(() => decodeFederationMessage(packr.pack({ v: 1, op: 'summary', acceptsYou: true, summary: clusterSummary('b', many) }), RemoteRequestSchema, 'req', 1 << 20), 'buckets');
    const smuggled = { ...clusterSummary('b', []), hostIds: ['12D3KooW…'] };
    badMessage(() => decodeFederationMessage(packr.pack({ v: 1, op: 'summary', acceptsYou: true, summary: smuggled }), RemoteRequestSchema, 'req', MAX), 'hostIds');
    const oddFilter = clusterSummary('b', [{ ...bucket({ hosts: 1, free: { vcpus: 1, memoryMiB: 1024 } }), labelFilter: new Uint8Array(33) }]);
    badMessage(() => decodeFederationMessage(packr.pack({ v: 1, op: 'summary', acceptsYou: true, summary: oddFilter }), RemoteRequestSchema, 'req', MAX), 'labelFilter: must be 0 or 32 bytes');
  });

  it('replies carry errors as data and job records loosely checked', () => {
    const err = decodeReply(encodeFederationMessage({ ok: false, code: 'FEDERATION_DENIED', message: 'no', details: { refusal: 'tenant' } }, MAX), 'reply', MAX);
    assert.deepEqual(err, { ok: false, code: 'FEDERATION_DENIED', message: 'no', details: { refusal: 'tenant' } });
    badMessage(() => decodeReply(packr.pack({ ok: true, job: { id: 'x' } }), 'reply', MAX), 'job');
  });

  it(`never throws anything but FEDERATION_BAD_MESSAGE on random bytes (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.anything().map((x) => packr.pack(x))), (bytes) => {
        try {
          decodeFederationMessage(bytes, RemoteRequestSchema, 'req', MAX);
        } catch (err) {
          assert.ok(err instanceof FederationError && err.code === 'FEDERATION_BAD_MESSAGE', `unexpected ${String(err)}`);
        }
      }),
      fcParams(300),
    );
  });

  it('metric labels for outcome codes stay a closed set, whatever another cluster answers', () => {
    assert.equal(outcomeLabel('FEDERATION_DENIED'), 'FEDERATION_DENIED');
    assert.equal(outcomeLabel('JOB_UNPLACEABLE'), 'JOB_UNPLACEABLE');
    assert.equal(outcomeLabel('JOB_' + 'X'.repeat(40)), 'other', 'an invented code must not become a label value');
  });
});
