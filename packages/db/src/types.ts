/** The one SQL interface every NetPay service codes against, whichever database is under it. */

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

/** PostgreSQL's type id of `int8`: both adapters parse it to `bigint`. */
export const INT8 = 20;
