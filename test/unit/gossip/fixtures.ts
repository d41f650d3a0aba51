import { hashPrefix } from '../../../src/core/hash.ts';
import type { CellSummary, HostRecord } from '../../../src/gossip/index.ts';
import { cellTopic, districtOf, districtTopic, summarizeCell } from '../../../src/gossip/index.ts';
import { initialRecord } from '../../../src/gossip/self-record.ts';

export const CLUSTER = 'test';

/** Membership options the unit tests share: Lifeguard's 1–2.5 s suspicion, one expected confirmation. */
export const MEMBERSHIP_OPTS = { suspicionMinMs: 1000, suspicionMaxMs: 2500, expectedConfirmations: 1, failedRetentionMs: 60_000 };

export function record(origin: string, over: Partial<HostRecord> = {}): HostRecord {
  return {
    ...initialRecord(origin, CLUSTER, 3, {
      zone: 'zone-a',
      labels: { energy: 'hydro', rack: 'r1' },
      drivers: ['qemu', 'process'],
      capacity: { vcpus: 64, memoryMiB: 262144, diskGiB: 2000 },
      free: { vcpus: 32, memoryMiB: 131072, diskGiB: 1000 },
      antiAffinityGroups: ['web'],
      jobs: 4,
      addrs: ['/ip4/10.0.0.1/tcp/4001'],
    }),
    seq: 7,
    ...over,
  };
}

/** A summary of the cell of `reporter` at `cellBits`, from members' records. */
export function summary(reporter: string, cellBits: number, issuedAtMs: number, members: string[] = [reporter]): CellSummary {
  const cell = hashPrefix(reporter, cellBits);
  return summarizeCell({
    cluster: CLUSTER,
    cell,
    cellBits,
    reporter,
    now: issuedAtMs,
    members: members.map((m, i) => ({ record: record(m, { zone: `zone-${i % 3}` }), status: 'alive' as const, updatedAtMs: 0 })),
    contacts: [{ peer: reporter, addrs: ['/ip4/10.0.0.1/tcp/4001'] }],
  });
}

export function cellTopicOf(peer: string, cellBits: number): string {
  return cellTopic(CLUSTER, cellBits, hashPrefix(peer, cellBits));
}

export function districtTopicOf(peer: string, cellBits: number): string {
  return districtTopic(CLUSTER, cellBits, districtOf(hashPrefix(peer, cellBits), cellBits));
}

/** A peer id whose cell at `cellBits` is not `cell`. */
export function peerOutside(cell: number, cellBits: number, prefix = 'x'): string {
  for (let i = 0; ; i++) if (hashPrefix(`${prefix}${i}`, cellBits) !== cell) return `${prefix}${i}`;
}

/** A peer id whose cell at `cellBits` is `cell`. */
export function peerInside(cell: number, cellBits: number, prefix = 'y'): string {
  for (let i = 0; ; i++) if (hashPrefix(`${prefix}${i}`, cellBits) === cell) return `${prefix}${i}`;
}

import { Packr, Unpackr } from 'msgpackr';
import { crc32 } from '../../../src/gossip/crc32.ts';

const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'number' });

/** Any value, msgpacked and sealed with a correct checksum: lets a test reach the checks behind the CRC. */
export function seal(value: unknown): Uint8Array {
  const packed = packr.pack(value);
  const out = new Uint8Array(packed.length + 4);
  out.set(packed);
  const c = crc32(out, 0, packed.length);
  out[packed.length] = c >>> 24;
  out[packed.length + 1] = (c >>> 16) & 0xff;
  out[packed.length + 2] = (c >>> 8) & 0xff;
  out[packed.length + 3] = c & 0xff;
  return out;
}

/** The tuple inside a sealed message. */
export function unseal(bytes: Uint8Array): unknown[] {
  return unpackr.unpack(bytes.subarray(0, bytes.length - 4)) as unknown[];
}

/** Re-seals bytes whose body was modified, with a fresh checksum (corruption before signing: the checksum-free case). */
export function resealBody(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  const c = crc32(out, 0, body.length);
  out[body.length] = c >>> 24;
  out[body.length + 1] = (c >>> 16) & 0xff;
  out[body.length + 2] = (c >>> 8) & 0xff;
  out[body.length + 3] = c & 0xff;
  return out;
}
