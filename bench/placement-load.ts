import type { ShoalApi } from './shoal-api.ts';
import { summarize, type Summary } from './stats.ts';

/**
 * Placement through ONE agent's socket (issue 5's figure): a closed loop of `concurrency`
 * clients, each POSTing a job and waiting for the answer before the next, bounded by a
 * request count and a time limit.
 */

export interface PlacementLoadOptions {
  requests: number;
  concurrency: number;
  maxDurationMs: number;
  /** Each job's size: small, so the cluster never fills up during the run. */
  vcpus: number;
  memoryMiB: number;
  policy: 'binpack' | 'spread';
  /** Prefix of names and idempotency keys, unique per run. */
  runId: string;
}

export interface PlacementLoadResult {
  concurrency: number;
  sent: number;
  /** 201 (or 200 for a repeated key, which should not happen here). */
  placed: number;
  /** 422: nothing could run it. */
  refused: number;
  /** Anything else, transport errors included, with the first few messages. */
  errors: number;
  errorSamples: string[];
  /** Latency of placed requests, ms, from sending to the full answer. */
  latencyMs: Summary;
  /** Placed requests ÷ wall time of the run. */
  placementsPerS: number;
  durationS: number;
  /** Jobs placed per host name, from the answers, when they name one. */
  hostsUsed: number;
}

export async function runPlacementLoad(api: ShoalApi, opts: PlacementLoadOptions): Promise<PlacementLoadResult> {
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  const hosts = new Set<string>();
  let sent = 0;
  let placed = 0;
  let refused = 0;
  let errors = 0;
  const t0 = performance.now();
  const deadline = t0 + opts.maxDurationMs;
  const client = async (): Promise<void> => {
    while (sent < opts.requests && performance.now() < deadline) {
      const n = sent++;
      const spec = {
        name: `${opts.runId}-${n}`,
        kind: 'vm',
        resources: { vcpus: opts.vcpus, memoryMiB: opts.memoryMiB, diskGiB: 0 },
        policy: opts.policy,
        idempotencyKey: `${opts.runId}-${n}`,
        labels: { bench: opts.runId },
      };
      const start = performance.now();
      try {
        const r = await api.call('POST', '/v1/jobs', spec);
        const ms = performance.now() - start;
        if (r.status === 201 || r.status === 200) {
          placed++;
          latencies.push(ms);
          const host = hostOf(r.text);
          if (host !== null) hosts.add(host);
        } else if (r.status === 422) {
          refused++;
        } else {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(`HTTP ${r.status}: ${r.text.slice(0, 200)}`);
        }
      } catch (err) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push((err as Error).message.slice(0, 200));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, client));
  const durationS = (performance.now() - t0) / 1000;
  return {
    concurrency: opts.concurrency,
    sent,
    placed,
    refused,
    errors,
    errorSamples,
    latencyMs: summarize(latencies),
    placementsPerS: durationS > 0 ? placed / durationS : 0,
    durationS,
    hostsUsed: hosts.size,
  };
}

function hostOf(text: string): string | null {
  try {
    const job = JSON.parse(text) as { host?: unknown; hostId?: unknown; node?: unknown };
    const h = job.host ?? job.hostId ?? job.node;
    return typeof h === 'string' ? h : null;
  } catch {
    return null;
  }
}
