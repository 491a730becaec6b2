import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/**
 * NetPay's one SQL layer: plain parameterised SQL ($1, $2, …) over either PGlite (PostgreSQL compiled to
 * WASM, in-process, data in a folder: the embedded default) or a real PostgreSQL server (DATABASE_URL).
 * Both return `int8` columns as `bigint` and `jsonb` as parsed JSON, so code above never sees a difference.
 * Keep SQL to what distributed PostgreSQL (Citus, CockroachDB, YugabyteDB) supports: no LISTEN, no
 * advisory locks outside migrations, tables keyed for sharding.
 */
export type Row = Record<string, unknown>;

export interface Queryable {
  query<R = Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs several statements without parameters (migrations, DDL). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /**
   * Runs `fn` in one transaction (READ COMMITTED; lock rows with SELECT … FOR UPDATE). Retried up to
   * `retries` times on serialization failures and deadlocks, so `fn` must be safe to run again.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: { retries?: number }): Promise<T>;
  close(): Promise<void>;
}

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
}

const INT8 = 20;
const RETRYABLE = new Set(['40001', '40P01']);

export async function openDatabase(options: OpenOptions = {}): Promise<Db> {
  if (options.url) return openPostgres(options.url, options.poolSize ?? 10);
  if (options.thread) return openPgliteThread(options.dataDir);
  return openPglite(options.dataDir);
}

/** The same Db over PGlite in a worker thread (pglite-worker.mjs). */
async function openPgliteThread(dataDir: string | undefined): Promise<Db> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const worker = new Worker(new URL('./pglite-worker.mjs', import.meta.url), { workerData: { dataDir } });
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 0;
  let failure: Error | undefined;
  worker.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: Record<string, string> }) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.result);
    else w.reject(Object.assign(new Error(m.error?.message ?? 'PGlite failed'), m.error));
  });
  const die = (e: Error) => {
    failure = e;
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
  };
  worker.on('error', die);
  worker.on('exit', (code) => die(new Error(`the PGlite thread exited (${code})`)));
  await new Promise<void>((resolve, reject) => {
    const onReady = (m: { ready?: boolean }) => {
      if (!m.ready) return;
      worker.off('message', onReady);
      resolve();
    };
    worker.on('message', onReady);
    worker.once('error', reject);
  });
  const send = <T>(op: 'query' | 'exec' | 'close', sql = '', params: readonly unknown[] = []) =>
    new Promise<T>((resolve, reject) => {
      if (failure) return reject(failure);
      const id = ++nextId;
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ id, op, sql, params });
    });
  const direct: Queryable = {
    query: <R>(sql: string, params?: readonly unknown[]) => send<R[]>('query', sql, params),
    exec: (sql: string) => send<void>('exec', sql),
  };
  // One connection: a transaction has it to itself. Plain statements run side by side (PGlite queues
  // them in order); a transaction waits for those in flight and holds new ones back until it ends.
  let exclusive: Promise<void> | undefined;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const shared = async <T>(run: () => Promise<T>): Promise<T> => {
    while (exclusive) await exclusive;
    inFlight++;
    try {
      return await run();
    } finally {
      if (--inFlight === 0) drained?.();
    }
  };
  return guardedPglite(
    {
      query: (sql, params) => shared(() => direct.query(sql, params)),
      exec: (sql) => shared(() => direct.exec(sql)),
    },
    async (fn) => {
      while (exclusive) await exclusive;
      let release!: () => void;
      exclusive = new Promise((r) => {
        release = r;
      });
      try {
        if (inFlight > 0) await new Promise<void>((r) => (drained = r));
        drained = undefined;
        await direct.exec('BEGIN');
        try {
          const out = await fn(direct);
          await direct.exec('COMMIT');
          return out;
        } catch (e) {
          await direct.exec('ROLLBACK').catch(() => {});
          throw e;
        }
      } finally {
        exclusive = undefined;
        release();
      }
    },
    async () => {
      if (failure) return;
      await shared(() => send<void>('close'));
      await worker.terminate();
    },
  );
}

async function openPglite(dataDir: string | undefined): Promise<Db> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const lite = await PGlite.create({
    ...(dataDir ? { dataDir } : {}),
    parsers: { [INT8]: (v: string) => BigInt(v) },
  });
  const wrap = (q: Pick<PGlite, 'query' | 'exec'>): Queryable => ({
    async query<R>(sql: string, params: readonly unknown[] = []) {
      const res = await q.query<R>(sql, params as unknown[]);
      return res.rows;
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
  });
  // Transactions run one at a time, so they never conflict and need no retry.
  return guardedPglite(
    wrap(lite),
    (fn) => lite.transaction((tx) => fn(wrap(tx))),
    () => lite.close(),
  );
}

/**
 * PGlite is one connection: a query on `db` from inside a transaction would wait for that transaction
 * forever. That is always a bug (it must use `tx`), so both PGlite handles fail loudly instead of hanging.
 */
function guardedPglite(
  plain: Queryable,
  transact: <T>(fn: (tx: Queryable) => Promise<T>) => Promise<T>,
  close: () => Promise<void>,
): Db {
  const inTransaction = new AsyncLocalStorage<true>();
  const guard = (what: string) => {
    if (inTransaction.getStore()) {
      throw new Error(`db.${what}() called inside a transaction: use the transaction's handle (tx) instead`);
    }
  };
  return {
    kind: 'pglite',
    query: (sql, params) => {
      guard('query');
      return plain.query(sql, params);
    },
    exec: (sql) => {
      guard('exec');
      return plain.exec(sql);
    },
    transaction: (fn) => {
      guard('transaction');
      return transact((tx) => inTransaction.run(true, () => fn(tx)));
    },
    close,
  };
}

async function openPostgres(url: string, max: number): Promise<Db> {
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === INT8
        ? (v: string) => BigInt(v)
        : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  };
  const pool = new pg.Pool({ connectionString: url, max, types });
  // An idle client's error (e.g. the server restarting) must not crash the process; the next query fails.
  pool.on('error', () => {});
  await pool.query('SELECT 1');
  const wrap = (c: pg.Pool | pg.PoolClient): Queryable => ({
    async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      const res = await c.query(sql, params as unknown[]);
      return res.rows as R[];
    },
    async exec(sql: string) {
      await c.query(sql);
    },
  });
  return {
    kind: 'postgres',
    ...wrap(pool),
    async transaction(fn, options = {}) {
      const retries = options.retries ?? 5;
      for (let attempt = 0; ; attempt++) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const result = await fn(wrap(client));
          await client.query('COMMIT');
          return result;
        } catch (e) {
          await client.query('ROLLBACK').catch(() => {});
          const code = (e as { code?: string }).code;
          if (attempt < retries && code && RETRYABLE.has(code)) {
            await new Promise((r) => setTimeout(r, 2 ** attempt + Math.random() * 5));
            continue;
          }
          throw e;
        } finally {
          client.release();
        }
      }
    },
    close: () => pool.end(),
  };
}

export interface Migration {
  /** Timestamped name, e.g. `20261126_0001_ledger`; applied in sorted order, forward only. */
  readonly id: string;
  readonly sql: string;
}

/**
 * The migrations kept as numbered SQL files in a folder (`20261126_0200_ledger.sql`: the file name without
 * `.sql` is the id), in sorted order. Call it with the folder's URL: `sqlMigrations(new URL('./migrations/',
 * import.meta.url))`.
 */
export function sqlMigrations(folder: URL): Migration[] {
  return readdirSync(folder)
    .filter((f) => /^\d{8}_\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ id: f.slice(0, -4), sql: readFileSync(new URL(f, folder), 'utf8') }));
}

/** Applies the migrations not applied yet, each in its own transaction. Safe to call from several processes. */
export async function migrate(db: Db, migrations: readonly Migration[]): Promise<string[]> {
  const ids = migrations.map((m) => m.id);
  if (new Set(ids).size !== ids.length) throw new Error('duplicate migration id');
  const sorted = [...migrations].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  await db.transaction(async (tx) => {
    // Taken before CREATE TABLE too: two processes creating the table at once collide in the catalog.
    if (db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(4242)');
    await tx.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at bigint NOT NULL)',
    );
  });
  const applied: string[] = [];
  for (const m of sorted) {
    const done = await db.transaction(async (tx) => {
      if (db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(4242)');
      const rows = await tx.query('SELECT 1 FROM schema_migrations WHERE id = $1', [m.id]);
      if (rows.length > 0) return false;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (id, applied_at) VALUES ($1, $2)', [
        m.id,
        BigInt(Date.now()),
      ]);
      return true;
    });
    if (done) applied.push(m.id);
  }
  return applied;
}

/** True for a unique-constraint violation (two writers racing for the same key). */
export function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string })?.code === '23505';
}
