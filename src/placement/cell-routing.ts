import type { Millis } from '../core/clock.ts';
import { driverRunsKind } from '../core/job.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import { mayHaveLabel } from '../gossip/label-filter.ts';
import type { CellBucket, CellSummary, Contact } from '../gossip/records.ts';
import type { PlacementDemand } from './demand.ts';
import { resourceRefusal, type RefusalReason } from './feasibility.ts';
import type { RefusalTally } from './refusals.ts';
import type { PlacementView } from './view.ts';

export interface CellChoice {
  readonly summary: CellSummary;
  readonly contact: Contact;
  readonly weight: number;
}

export interface CellRoutingContext {
  readonly rng: Rng;
  readonly now: Millis;
  /** Cells this placement already tried. */
  readonly excludeCells: ReadonlySet<number> | null;
  /** Peers known unreachable: not used as contacts. */
  readonly avoidPeers: ReadonlySet<PeerIdStr> | null;
  /** When given, receives per-host estimates from every other cell's buckets. */
  readonly tally: RefusalTally | null;
  readonly maxSummaryAgeMs: Millis;
  readonly weakCellWeight: number;
}

/** Zone, driver and labels of a bucket; the bucket's hosts are all alike in these. */
export function bucketRefusal(demand: PlacementDemand, bucket: CellBucket): RefusalReason | null {
  if (demand.zone !== undefined && bucket.zone !== demand.zone) return 'other-zone';
  if (demand.driver !== undefined) {
    if (!bucket.drivers.includes(demand.driver)) return 'no-driver';
  } else {
    let runs = false;
    for (const d of bucket.drivers) if (driverRunsKind(d, demand.kind)) runs = true;
    if (!runs) return 'no-driver';
  }
  // A bucket's labels are a filter over its hosts: "maybe" is necessary, not sufficient.
  for (const probe of demand.hostLabelProbes) if (!mayHaveLabel(bucket.labelFilter, probe)) return 'missing-label';
  return null;
}

/**
 * How many of a bucket's hosts surely fit the job: the fit count of the smallest standard
 * shape covering it. When no shape covers it, or the covering shape's count is 0, `maxFree`
 * can still say "maybe" (its axes may come from different hosts): that returns -1.
 */
export function bucketFits(demand: PlacementDemand, bucket: CellBucket): number {
  if (resourceRefusal(demand.resources, bucket.maxFree) !== null) return 0;
  const sure = demand.shapeIndex >= 0 ? Math.min(bucket.fits[demand.shapeIndex] ?? 0, bucket.hosts) : 0;
  return sure > 0 ? sure : -1;
}

/**
 * The weight of routing a job to a cell: the hosts that surely fit, or `weakCellWeight` when
 * some only might; 0 when none can. Tallies every bucket's hosts into `tally` when given.
 */
export function cellWeight(demand: PlacementDemand, summary: CellSummary, weakCellWeight: number, tally: RefusalTally | null): number {
  if (demand.cluster !== undefined && summary.cluster !== demand.cluster) {
    if (tally !== null) for (const b of summary.buckets) tally.add('other-cluster', b.hosts);
    return 0;
  }
  let sure = 0;
  let maybe = false;
  for (const b of summary.buckets) {
    const reason = bucketRefusal(demand, b);
    if (reason !== null) {
      if (tally !== null) tally.add(reason, b.hosts);
      continue;
    }
    const fits = bucketFits(demand, b);
    if (fits > 0) {
      sure += fits;
      if (tally !== null) {
        tally.addFeasible(fits);
        if (b.hosts > fits) tally.add('short-capacity', b.hosts - fits);
      }
    } else {
      if (fits < 0) maybe = true;
      if (tally !== null) tally.add(resourceRefusal(demand.resources, b.maxFree) ?? 'short-capacity', b.hosts);
    }
  }
  return sure > 0 ? sure : maybe ? weakCellWeight : 0;
}

/** A uniformly random contact of the cell that is neither us nor known unreachable. */
export function pickContact(summary: CellSummary, self: PeerIdStr, avoid: ReadonlySet<PeerIdStr> | null, rng: Rng): Contact | null {
  const contacts = summary.contacts;
  let eligible = 0;
  for (const c of contacts) if (c.peer !== self && (avoid === null || !avoid.has(c.peer))) eligible++;
  if (eligible === 0) return null;
  let k = rng.int(eligible);
  for (const c of contacts) {
    if (c.peer === self || (avoid !== null && avoid.has(c.peer))) continue;
    if (k-- === 0) return c;
  }
  return null;
}

/**
 * Routes a job that does not fit the own cell: one pass over the summaries of all other
 * cells, a weighted random pick (reservoir of one) among the cells that can take it, weight
 * = hosts that surely fit. Weighting by fit count steers load toward cells with room without
 * sending every router to the single emptiest cell. O(cells × buckets) per call; it runs only
 * for jobs the own cell cannot take.
 */
export function chooseCell(demand: PlacementDemand, view: PlacementView, ctx: CellRoutingContext): CellChoice | null {
  const { rng, now, excludeCells, avoidPeers, tally } = ctx;
  const own = view.ownCell;
  let total = 0;
  let chosen: CellSummary | null = null;
  let chosenWeight = 0;
  for (const s of view.cellSummaries()) {
    if (s.cell === own && s.cellBits === view.cellBits) continue;
    if (s.issuedAtMs + ctx.maxSummaryAgeMs < now) {
      if (tally !== null) tally.staleCells++;
      continue;
    }
    const w = cellWeight(demand, s, ctx.weakCellWeight, tally);
    if (w <= 0) continue;
    if (excludeCells !== null && excludeCells.has(s.cell)) continue;
    if (!hasContact(s, view.self, avoidPeers)) continue;
    total += w;
    if (rng.next() * total < w) {
      chosen = s;
      chosenWeight = w;
    }
  }
  if (chosen === null) return null;
  const contact = pickContact(chosen, view.self, avoidPeers, rng);
  return contact === null ? null : { summary: chosen, contact, weight: chosenWeight };
}

function hasContact(s: CellSummary, self: PeerIdStr, avoid: ReadonlySet<PeerIdStr> | null): boolean {
  for (const c of s.contacts) if (c.peer !== self && (avoid === null || !avoid.has(c.peer))) return true;
  return false;
}
