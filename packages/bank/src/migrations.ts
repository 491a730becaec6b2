import type { Migration } from '@netpay/db';
import { IDEMPOTENCY_MIGRATION } from '@netpay/service';

/**
 * The bank's schema, forward only. Balances live on the account row (locked with SELECT … FOR UPDATE by
 * every transfer) and can never go negative; each movement is one transfer row plus one statement entry per
 * account, so an account's balance is always the sum of its entries.
 */
export const BANK_MIGRATIONS: readonly Migration[] = [
  IDEMPOTENCY_MIGRATION,
  {
    id: '20261126_0100_bank_accounts',
    sql: `
      CREATE TABLE bank_settings (
        key text PRIMARY KEY,
        value text NOT NULL
      );
      CREATE TABLE bank_accounts (
        id text PRIMARY KEY,
        name text NOT NULL,
        balance bigint NOT NULL CHECK (balance >= 0),
        token_hash text NOT NULL UNIQUE,
        last_seq bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
        created_at bigint NOT NULL
      );`,
  },
  {
    id: '20261126_0110_bank_transfers',
    sql: `
      CREATE TABLE bank_transfers (
        id text PRIMARY KEY,
        from_account text NOT NULL REFERENCES bank_accounts (id),
        to_account text NOT NULL REFERENCES bank_accounts (id),
        amount bigint NOT NULL CHECK (amount > 0),
        reference text,
        idempotency_key text NOT NULL,
        created_at bigint NOT NULL,
        CHECK (from_account <> to_account),
        UNIQUE (from_account, idempotency_key)
      );`,
  },
  {
    id: '20261126_0120_bank_entries',
    sql: `
      CREATE TABLE bank_entries (
        account_id text NOT NULL REFERENCES bank_accounts (id),
        seq bigint NOT NULL CHECK (seq > 0),
        kind text NOT NULL CHECK (kind IN ('opening', 'debit', 'credit')),
        amount bigint NOT NULL CHECK (amount <> 0 AND (amount < 0) = (kind = 'debit')),
        balance_after bigint NOT NULL CHECK (balance_after >= 0),
        counterparty text,
        transfer_id text REFERENCES bank_transfers (id),
        created_at bigint NOT NULL,
        PRIMARY KEY (account_id, seq),
        CHECK ((kind = 'opening') = (transfer_id IS NULL))
      );`,
  },
];
