import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '@netpay/db';
import type { TestProject } from 'vitest/node';

/**
 * Vitest globalSetup: one empty PGlite data folder (initdb done, no tables) per `vitest run`, for tests
 * that start a bank, a broker or a vendor on PGlite in a fresh folder (`seedPgliteDataDir` in
 * `@netpay/db/testing`). PGlite's initdb takes 2–10 s of CPU on a busy 2-core machine; copying this folder
 * takes about 0.1 s. Every migration still runs in each copy (it has no tables). Removed in teardown.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    /** Folder of an empty, closed PGlite cluster to copy; '' when none. */
    pgliteTemplateDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Listed by several projects: they share one folder, removed after the last of them is done.
  const shared = globalThis as { netpayPglite?: { dir: Promise<string>; users: number } };
  shared.netpayPglite ??= { dir: createTemplate(), users: 0 };
  const entry = shared.netpayPglite;
  entry.users++;
  const dir = await entry.dir;
  project.provide('pgliteTemplateDir', dir);
  return async () => {
    if (--entry.users > 0) return;
    shared.netpayPglite = undefined;
    await rm(path.dirname(dir), { recursive: true, force: true });
  };
}

async function createTemplate(): Promise<string> {
  // On tmpfs when there is one, like the copies (`@netpay/db/testing`).
  const parent = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dir = path.join(await mkdtemp(path.join(parent, 'netpay-pglite-template-')), 'data');
  const db = await openDatabase({ dataDir: dir });
  await db.close();
  return dir;
}
