/**
 * NetPay's one SQL layer: plain parameterised SQL ($1, $2, …) over either PGlite (PostgreSQL compiled to
 * WASM, in-process, data in a folder: the embedded default) or a real PostgreSQL server (DATABASE_URL).
 * Both return `int8` columns as `bigint` and `jsonb` as parsed JSON, so code above never sees a difference.
 * Keep SQL to what distributed PostgreSQL (Citus, CockroachDB, YugabyteDB) supports: no LISTEN, no
 * advisory locks outside migrations, tables keyed for sharding.
 *   types.ts          Queryable and Db, the interface every service codes against
 *   pglite.ts         PGlite in this process; pglite-thread.ts on a worker thread (pglite-worker.mjs)
 *   postgres.ts       a PostgreSQL server through a pool
 *   migrations.ts     numbered SQL files applied once, in order
 */
import { openPglite } from './pglite.ts';
import { openPgliteThread } from './pglite-thread.ts';
import { openPostgres } from './postgres.ts';
import type { Db } from './types.ts';

export { type Migration, migrate, sqlMigrations } from './migrations.ts';
export type { Db, Queryable, Row } from './types.ts';

export interface OpenOptions {
  /** postgres://… to use a PostgreSQL server. */
  readonly url?: string;
  /** Folder for PGlite's data; omitted: in memory. */
  readonly dataDir?: string;
  /** Connection pool size for PostgreSQL. Default 10. */
  readonly poolSize?: number;
  /**
   * Run PGlite on a worker thread, so its statements use another core and never block the caller's event
   * loop (a server answering HTTP while it commits). Each statement costs a message round trip (~50 µs).
   */
  readonly thread?: boolean;
  /**
   * PGlite: how long a statement made while transactions are open waits for them before it fails as one
   * made inside a transaction on `db` instead of its `tx` (which would wait forever). Default 30 s.
   */
  readonly transactionWaitMs?: number;
}

export async function openDatabase(options: OpenOptions = {}): Promise<Db> {
  if (options.url) return openPostgres(options.url, options.poolSize ?? 10);
  if (options.thread) return openPgliteThread(options.dataDir, options.transactionWaitMs);
  return openPglite(options.dataDir, options.transactionWaitMs);
}

/** True for a unique-constraint violation (two writers racing for the same key). */
export function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string })?.code === '23505';
}
