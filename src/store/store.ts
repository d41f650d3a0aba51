import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { ShoalError } from '../core/errors.ts';

/**
 * The agent's durable state, one LevelDB under `<dataDir>/store`. Each concern has its own
 * sublevel; writes that must survive power loss are batched with `sync: true`.
 */

export type StoreErrorCode = 'STORE_OPEN_FAILED' | 'STORE_LOCKED' | 'STORE_WRITE_FAILED' | 'STORE_CORRUPT';

export class StoreError extends ShoalError<StoreErrorCode> {
  constructor(code: StoreErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(code, message, details, { cause });
    this.name = 'StoreError';
  }
}

export type Db = Level<string, unknown>;
export type Sublevel = ReturnType<Db['sublevel']>;

export class Store {
  readonly db: Db;
  readonly path: string;

  private constructor(db: Db, path: string) {
    this.db = db;
    this.path = path;
  }

  static async open(dataDir: string): Promise<Store> {
    const path = join(dataDir, 'store');
    mkdirSync(path, { recursive: true, mode: 0o750 });
    const db: Db = new Level<string, unknown>(path, { valueEncoding: 'json' });
    try {
      await db.open();
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      if (cause && /lock/i.test(cause.message)) {
        throw new StoreError('STORE_LOCKED', `the store at ${path} is in use by another agent (${cause.message})`, { path }, err);
      }
      throw new StoreError('STORE_OPEN_FAILED', `cannot open the store at ${path}: ${cause?.message ?? (err as Error).message}`, { path }, err);
    }
    return new Store(db, path);
  }

  sublevel(name: string): Sublevel {
    return this.db.sublevel(name, { valueEncoding: 'json' });
  }

  /** One atomic batch, fsynced before it resolves. */
  async writeSynced(what: string, fill: (batch: ReturnType<Db['batch']>) => void): Promise<void> {
    const batch = this.db.batch();
    fill(batch);
    await durably(what, () => batch.write({ sync: true }));
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** Runs a write and turns LevelDB's failure (full disk, I/O error) into a precise StoreError. */
export async function durably<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const cause = (err as { cause?: Error }).cause ?? (err as Error);
    const full = /no space|ENOSPC/i.test(cause.message);
    throw new StoreError(
      'STORE_WRITE_FAILED',
      `could not persist ${what}: ${full ? 'the disk is full' : cause.message}`,
      { what, diskFull: full },
      err,
    );
  }
}
