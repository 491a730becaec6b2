import { type Migration, sqlMigrations } from '@netpay/db';
import { IDEMPOTENCY_MIGRATION } from '@netpay/service';

/**
 * The bank's schema, forward only: numbered SQL files in migrations/ (the file name is the id). Balances
 * live on the account row (locked with SELECT … FOR UPDATE by every transfer) and can never go negative;
 * each movement is one transfer row plus one statement entry per account, so an account's balance is
 * always the sum of its entries.
 */
export const BANK_MIGRATIONS: readonly Migration[] = [
  IDEMPOTENCY_MIGRATION,
  ...sqlMigrations(new URL('./migrations/', import.meta.url)),
];
