/**
 * Makes a PGlite database durable: PGlite writes its files but never fsyncs them, so a power loss could
 * lose what it committed. CHECKPOINT writes every dirty page to the files; then every file and folder of
 * its data folder changed since the last sync began is fsynced. The journal drops a file only after this
 * (behind.ts).
 *
 * Which files changed is read synchronously (metadata, from memory: ~1,000 files in a few milliseconds);
 * only those are fsynced, asynchronously, so the event loop never waits for the disk.
 */
import { readdirSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Queryable } from '@netpay/db';

/** Slack for mtimes against this process's clock (the file system's clock is the same machine's). */
const MTIME_SLACK_MS = 2_000;
/** Files fsynced at once (libuv's pool has four threads). */
const PARALLEL = 4;

export function databaseSyncer(db: Queryable, dataDir: string): () => Promise<void> {
  let lastStart = Number.NEGATIVE_INFINITY;
  return async () => {
    const start = Date.now();
    await db.exec('CHECKPOINT');
    const since = lastStart - MTIME_SLACK_MS;
    const entries = readdirSync(dataDir, { recursive: true, withFileTypes: true });
    const paths = [dataDir, ...entries.map((e) => join(e.parentPath ?? e.path, e.name))];
    const changed = paths.filter((p) => changedSince(p, since));
    for (let k = 0; k < changed.length; k += PARALLEL)
      await Promise.all(changed.slice(k, k + PARALLEL).map(fsync));
    lastStart = start;
  };
}

function changedSince(path: string, since: number): boolean {
  const st = statSync(path, { throwIfNoEntry: false });
  return st !== undefined && Math.max(st.mtimeMs, st.ctimeMs) >= since;
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
