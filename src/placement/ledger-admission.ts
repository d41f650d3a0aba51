import type { Millis } from '../core/clock.ts';
import type { AdmitRequest, AdmitResult } from './host-ledger.ts';
import type { HostAdmission } from './placement-node.ts';

/** The part of a HostLedger that admission needs (a test may wrap one). */
export interface AdmissionLedger {
  admit(req: AdmitRequest): AdmitResult;
  release(jobId: string, epoch?: number): boolean;
}

/**
 * HostAdmission over an in-memory HostLedger that answers at once: the host role of the
 * simulator and of tests. The agent's HostAdmission persists before answering instead.
 */
export class LedgerAdmission implements HostAdmission {
  readonly ledger: AdmissionLedger;

  constructor(ledger: AdmissionLedger) {
    this.ledger = ledger;
  }

  admit(req: AdmitRequest, now: Millis, done: (result: AdmitResult, now: Millis) => void): void {
    done(this.ledger.admit(req), now);
  }

  release(jobId: string, epoch: number): void {
    this.ledger.release(jobId, epoch);
  }
}
