import cliProgress from 'cli-progress';

/**
 * Progress of a bench run: a cli-progress bar over the time budget on a TTY, plain
 * timestamped lines otherwise (CI logs, pipes). Log lines go above the bar.
 */
export class BenchProgress {
  readonly #t0 = performance.now();
  readonly #budgetS: number;
  readonly #bar: cliProgress.SingleBar | null;
  #phase = 'starting';
  #timer: NodeJS.Timeout | null = null;

  constructor(opts: { budgetS: number; tty: boolean }) {
    this.#budgetS = opts.budgetS;
    if (opts.tty) {
      this.#bar = new cliProgress.SingleBar(
        { format: '{bar} {elapsed}/{budget} s | {phase}', hideCursor: true, clearOnComplete: true, etaBuffer: 1 },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(this.#budgetS, 0, { phase: this.#phase, elapsed: 0, budget: this.#budgetS });
      this.#timer = setInterval(() => this.#render(), 1000);
      this.#timer.unref();
    } else {
      this.#bar = null;
    }
  }

  elapsedS(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  phase(name: string): void {
    this.#phase = name;
    if (this.#bar) this.#render();
    else this.log(`${name}…`);
  }

  log(line: string): void {
    const stamped = `[${formatClock(this.elapsedS())}] ${line}`;
    if (this.#bar) {
      this.#bar.stop();
      process.stdout.write(`${stamped}\n`);
      this.#bar.start(this.#budgetS, Math.min(this.#budgetS, Math.round(this.elapsedS())), { phase: this.#phase, elapsed: Math.round(this.elapsedS()), budget: this.#budgetS });
    } else {
      process.stdout.write(`${stamped}\n`);
    }
  }

  #render(): void {
    const e = Math.round(this.elapsedS());
    this.#bar?.update(Math.min(this.#budgetS, e), { phase: this.#phase, elapsed: e, budget: this.#budgetS });
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#bar?.stop();
  }
}

function formatClock(s: number): string {
  const m = Math.floor(s / 60);
  const r = Math.floor(s % 60);
  return `${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`;
}
