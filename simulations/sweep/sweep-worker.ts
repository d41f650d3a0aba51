import { parentPort, workerData } from 'node:worker_threads';
import type { Scenario } from '../scenario/schema.ts';
import { runScenario } from '../run/run-scenario.ts';

/** One sweep replica per worker thread: runs a scenario and posts back its full result. */
const { scenario } = workerData as { scenario: Scenario };
try {
  const result = runScenario(scenario, { baselines: false });
  parentPort!.postMessage({ ok: true, result });
} catch (err) {
  parentPort!.postMessage({ ok: false, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
}
