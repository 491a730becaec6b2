/** PGlite (PostgreSQL compiled to WASM) in this process, data in a folder or in memory. */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { type Db, INT8, type Queryable } from './types.ts';

export async function openPglite(dataDir: string | undefined): Promise<Db> {
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
export function guardedPglite(
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
