/**
 * Makes a PGlite database durable: PGlite writes its files but never fsyncs them, so a power loss could
 * lose what it committed. CHECKPOINT writes every dirty page to the files; then every file and folder
 * under its data folder is fsynced. The journal drops a file only after this (behind.ts).
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Queryable } from '@netpay/db';

/** Files fsynced at once (the thread pool has four threads). */
const PARALLEL = 4;

export function databaseSyncer(db: Queryable, dataDir: string): () => Promise<void> {
  return async () => {
    await db.exec('CHECKPOINT');
    const entries = await readdir(dataDir, { recursive: true, withFileTypes: true });
    const paths = [dataDir, ...entries.map((e) => join(e.parentPath ?? e.path, e.name))];
    for (let k = 0; k < paths.length; k += PARALLEL)
      await Promise.all(paths.slice(k, k + PARALLEL).map(fsync));
  };
}

async function fsync(path: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // removed meanwhile (a dropped relation)
    throw e;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
