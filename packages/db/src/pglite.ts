/** PGlite (PostgreSQL compiled to WASM) in this process, data in a folder or in memory. */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { type Db, INT8, type Queryable } from './types.ts';

export async function openPglite(dataDir: string | undefined, waitMs = TRANSACTION_WAIT_MS): Promise<Db> {
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
    waitMs,
  );
}

/** How long a statement waits for the transactions open when it was made before it is taken for a bug (default). */
export const TRANSACTION_WAIT_MS = 30_000;

/**
 * PGlite is one connection: a query on `db` from inside a transaction would wait for that transaction
 * forever. That is always a bug (it must use `tx`), so both PGlite handles fail loudly instead of hanging:
 * a statement made while transactions are open waits for those (as PGlite would), and one still waiting
 * after `waitMs` (default TRANSACTION_WAIT_MS) fails without being run. (An AsyncLocalStorage could tell at once, but it puts
 * a hook on every promise of the process: about 0.2 µs each, measured, on every request a server answers.)
 */
export function guardedPglite(
  plain: Queryable,
  transact: <T>(fn: (tx: Queryable) => Promise<T>) => Promise<T>,
  close: () => Promise<void>,
  waitMs = TRANSACTION_WAIT_MS,
): Db {
  /** Transactions made and not yet ended, each as the promise of its end. */
  const open = new Set<Promise<unknown>>();
  const afterOpen = async (what: string): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), waitMs);
    });
    try {
      const ended = Promise.allSettled([...open]);
      if ((await Promise.race([ended, waited])) === 'late') {
        throw new Error(
          `db.${what}() waited ${waitMs / 1000} s for a transaction: called inside one? use the transaction's handle (tx) instead`,
        );
      }
    } finally {
      clearTimeout(timer);
    }
  };
  const guarded =
    <A extends unknown[], R>(what: string, f: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      open.size === 0 ? f(...args) : afterOpen(what).then(() => f(...args));
  return {
    kind: 'pglite',
    query: guarded('query', (sql: string, params?: readonly unknown[]) => plain.query(sql, params)),
    exec: guarded('exec', (sql: string) => plain.exec(sql)),
    transaction: guarded('transaction', <T>(fn: (tx: Queryable) => Promise<T>) => {
      const run = transact(fn);
      const end = run.catch(() => {});
      open.add(end);
      void end.then(() => open.delete(end));
      return run;
    }) as Db['transaction'],
    close,
  };
}
