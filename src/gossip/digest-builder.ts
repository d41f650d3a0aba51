import type { Millis, PeerIdStr } from '../core/index.ts';
import { ShoalError } from '../core/errors.ts';
import type { Encoded } from '../core/protocol.ts';
import { MAX_SUMMARIES_PER_DIGEST, MAX_VERSIONS_PER_DIGEST, encodeDigest, summaryBodyBytes } from './codec.ts';
import type { DigestMsg, SummaryVersion } from './messages.ts';
import type { CellSummary } from './records.ts';

export interface DigestHeader {
  readonly cluster: string;
  readonly reporter: PeerIdStr;
  readonly cellBits: number;
  readonly districtBits: number;
  readonly district: number;
  readonly full: boolean;
}

/**
 * One digest, or several when the summaries exceed a digest's count or byte limit (halved
 * until each fits) or the versions its count limit. The versions (summaries named without
 * their bodies) ride with the first parts, MAX_VERSIONS_PER_DIGEST in each.
 */
export function buildDigests(header: DigestHeader, summaries: readonly CellSummary[], versions: readonly SummaryVersion[], now: Millis): Encoded<DigestMsg>[] {
  const out: Encoded<DigestMsg>[] = [];
  const issuedAtMs = Math.floor(now);
  let named = 0;
  const emit = (part: readonly CellSummary[]): void => {
    const ride = versions.slice(named, named + MAX_VERSIONS_PER_DIGEST);
    try {
      out.push(encodeDigest({ ...header, issuedAtMs, summaries: part, versions: ride }));
      named += ride.length;
    } catch (err) {
      if (!(err instanceof ShoalError) || err.code !== 'GOSSIP_TOO_LARGE' || part.length < 2) throw err;
      const half = part.length >>> 1;
      emit(part.slice(0, half));
      emit(part.slice(half));
    }
  };
  for (let i = 0; i < summaries.length; i += MAX_SUMMARIES_PER_DIGEST) emit(summaries.slice(i, i + MAX_SUMMARIES_PER_DIGEST));
  while (named < versions.length || out.length === 0) emit([]);
  return out;
}

/** Envelope and header of a digest, and one version in it, in bytes (upper bounds). */
const DIGEST_OVERHEAD_BYTES = 160;
const VERSION_BYTES = 24;

/**
 * The bodies a digest naming `versions` carries within `maxBytes`, and the ones held for a
 * later digest: summaries the cluster never got whole first (`neverWhole`), then the oldest.
 * At least one body goes, so a summary larger than the room is not held forever.
 */
export function fitBodies(
  bodies: readonly CellSummary[],
  versions: number,
  maxBytes: number,
  neverWhole: (s: CellSummary) => boolean,
): { carried: CellSummary[]; held: CellSummary[] } {
  const order = bodies.map((s) => ({ s, first: neverWhole(s) })).sort((a, b) => (a.first !== b.first ? (a.first ? -1 : 1) : a.s.issuedAtMs - b.s.issuedAtMs));
  let room = maxBytes - DIGEST_OVERHEAD_BYTES - versions * VERSION_BYTES;
  const carried: CellSummary[] = [];
  const held: CellSummary[] = [];
  for (const { s } of order) {
    const bytes = summaryBodyBytes(s);
    if (bytes <= room || carried.length === 0) {
      carried.push(s);
      room -= bytes;
    } else held.push(s);
  }
  return { carried, held };
}
