import { Counter, type Registry } from 'prom-client';
import type { PlacementMetrics } from '../placement/metrics.ts';

/** prom-client counters for the placement core; they satisfy its CounterLike interface directly. */
export function createPlacementMetrics(registry: Registry): PlacementMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> => new Counter({ name, help, labelNames, registers: [registry] });
  return {
    placements: counter('shoal_placement_placements_total', 'Placements finished as key owner, by result', ['result']),
    asks: counter('shoal_placement_asks_total', 'Admit/route asks sent, by kind and answer', ['kind', 'answer']),
    retries: counter('shoal_placement_retries_total', 'Asks beyond the first of each placement', []),
    admissions: counter('shoal_placement_admissions_total', 'Admissions decided by this host, by result', ['result']),
    refusals: counter('shoal_placement_refusals_total', 'Refused placements by their most frequent reason', ['reason']),
    forwards: counter('shoal_placement_forwards_total', 'Requests forwarded toward a key owner, by kind', ['kind']),
    releases: counter('shoal_placement_releases_total', 'Late or superseded admissions released', []),
  };
}
