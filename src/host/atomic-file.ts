import { access, readFile, rename, writeFile } from 'node:fs/promises';

/** Small file helpers for driver state: written whole or not at all, so a crash never leaves half a manifest. */

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes to a temp file, then renames over the target (rename is atomic within a filesystem). */
export async function writeFileAtomic(path: string, data: string, mode = 0o640): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

export async function writeJsonAtomic(path: string, value: unknown, mode = 0o640): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, mode);
}

/** undefined when the file is absent or not JSON. */
export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
