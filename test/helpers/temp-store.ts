import { rmSync } from 'node:fs';
import { Store } from '../../src/store/index.ts';
import { tempDir } from './agent-process.ts';

/**
 * A real level store in a fresh temporary directory for each test of the calling `describe`
 * (mocha hooks): closed and removed after it. A test may close and reopen `store` itself.
 */
export function useTempStore(): { dir: string; store: Store } {
  const t = {} as { dir: string; store: Store };
  beforeEach(async () => {
    t.dir = tempDir();
    t.store = await Store.open(t.dir);
  });
  afterEach(async () => {
    if (t.store.db.status === 'open') await t.store.close();
    rmSync(t.dir, { recursive: true, force: true });
  });
  return t;
}
