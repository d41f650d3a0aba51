import type { Millis, PeerIdStr } from '../core/index.ts';
import { ShoalError } from '../core/errors.ts';
import type { Encoded } from '../core/protocol.ts';
import { MAX_SUMMARIES_PER_DIGEST, MAX_VERSIONS_PER_DIGEST, encodeDigest } from './codec.ts';
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
