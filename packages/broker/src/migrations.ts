import { type Migration, sqlMigrations } from '@netpay/db';
import { IDEMPOTENCY_MIGRATION } from '@netpay/service';

/**
 * The broker's schema, forward only: numbered SQL files in migrations/ (the file name is the id). Tables
 * holding per-chain data are keyed by chain_id so they can be sharded on a distributed PostgreSQL. Times
 * are Unix milliseconds in bigint columns.
 */
export const BROKER_MIGRATIONS: readonly Migration[] = [
  IDEMPOTENCY_MIGRATION,
  ...sqlMigrations(new URL('./migrations/', import.meta.url)),
];
