import type { Clock, TimerHandle } from '../core/clock.ts';
import type { DriverName } from '../core/job.ts';
import type { Resources } from '../core/resources.ts';
import { allocatableCapacity, physicalCapacity, type CapacityPolicy } from '../host/capacity.ts';
import { HostFactsReader, type HostFacts } from '../host/facts.ts';
import type { Logger } from 'pino';

/**
 * The host's facts and what it offers to placement, refreshed on a timer. The policy
 * (overcommit, reserved, labels) can change on SIGHUP without a restart.
 */
export interface HostPolicy extends CapacityPolicy {
  readonly zone: string;
  readonly region: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly refreshMs: number;
}

export class HostState {
  private factsValue: HostFacts | undefined;
  private policyValue: HostPolicy;
  private driversValue: readonly DriverName[] = [];
  private timer: TimerHandle | undefined;
  private readonly factsReader: HostFactsReader;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly listeners = new Set<() => void>();
  draining = false;

  constructor(opts: { dataDir: string; policy: HostPolicy }, modules: { clock: Clock; logger: Logger }) {
    this.factsReader = new HostFactsReader(opts.dataDir);
    this.policyValue = opts.policy;
    this.clock = modules.clock;
    this.logger = modules.logger;
  }

  async start(): Promise<void> {
    await this.refresh();
    this.arm();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  get facts(): HostFacts {
    if (!this.factsValue) throw new Error('host facts read before start()');
    return this.factsValue;
  }

  get policy(): HostPolicy {
    return this.policyValue;
  }

  get drivers(): readonly DriverName[] {
    return this.driversValue;
  }

  setDrivers(drivers: readonly DriverName[]): void {
    this.driversValue = drivers;
    this.changed();
  }

  setPolicy(policy: HostPolicy): void {
    this.policyValue = policy;
    this.changed();
  }

  physical(): Resources {
    return physicalCapacity(this.facts, this.policyValue);
  }

  allocatable(): Resources {
    return allocatableCapacity(this.physical(), this.policyValue);
  }

  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  private async refresh(): Promise<void> {
    try {
      this.factsValue = await this.factsReader.read();
      this.changed();
    } catch (err) {
      // Keep the last good facts: a transient read failure must not zero the host's capacity.
      this.logger.warn({ err }, 'could not read host facts; keeping the previous ones');
      if (!this.factsValue) throw err;
    }
  }

  private arm(): void {
    this.timer = this.clock.schedule(this.policyValue.refreshMs, () => {
      void this.refresh().finally(() => {
        if (this.timer) this.arm();
      });
    });
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
