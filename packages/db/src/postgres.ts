/** A PostgreSQL server (DATABASE_URL) through a pool of connections; transactions retried on conflicts. */
import pg from 'pg';
import { type Db, INT8, type Queryable } from './types.ts';

/** Serialization failure and deadlock: the transaction is run again. */
const RETRYABLE = new Set(['40001', '40P01']);

export async function openPostgres(url: string, max: number): Promise<Db> {
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
  return {
    kind: 'postgres',
    ...wrap(pool),
    transaction: (fn, options = {}) => transaction(pool, fn, options.retries ?? 5),
    close: () => pool.end(),
  };
}

function wrap(c: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      const res = await c.query(sql, params as unknown[]);
      return res.rows as R[];
    },
    async exec(sql: string) {
      await c.query(sql);
    },
  };
}

/** Runs `fn` in a transaction on one pooled connection, again (after a short back-off) on a conflict. */
async function transaction<T>(pool: pg.Pool, fn: (tx: Queryable) => Promise<T>, retries: number): Promise<T> {
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
}
