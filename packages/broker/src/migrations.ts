import type { Migration } from '@netpay/db';
import { IDEMPOTENCY_MIGRATION } from '@netpay/service';

/**
 * The broker's schema, forward only. Tables holding per-chain data are keyed by chain_id so they can be
 * sharded on a distributed PostgreSQL. Times are Unix milliseconds in bigint columns.
 */
export const BROKER_MIGRATIONS: readonly Migration[] = [
  IDEMPOTENCY_MIGRATION,
  {
    id: '20261126_0200_ledger',
    sql: `
      -- Double-entry ledger. balance = sum(credits) - sum(debits), so all balances sum to zero.
      -- Liabilities (customers, vendors, coins outstanding) are positive; the broker's cash at the bank is
      -- negative. Customer and vendor balances can never go below zero.
      CREATE TABLE ledger_accounts (
        id text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('customer', 'vendor', 'coins', 'fees', 'bank', 'fraud')),
        balance bigint NOT NULL DEFAULT 0,
        created_at bigint NOT NULL,
        CHECK (kind NOT IN ('customer', 'vendor', 'coins') OR balance >= 0)
      );
      CREATE TABLE ledger_transfers (
        id text PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        debit_account text NOT NULL REFERENCES ledger_accounts (id),
        credit_account text NOT NULL REFERENCES ledger_accounts (id),
        amount bigint NOT NULL CHECK (amount > 0),
        kind text NOT NULL,
        ref text,
        created_at bigint NOT NULL,
        CHECK (debit_account <> credit_account)
      );
      CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account, created_at);
      CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account, created_at);
      INSERT INTO ledger_accounts (id, kind, created_at) VALUES
        ('coins_outstanding', 'coins', 0), ('fees', 'fees', 0), ('bank', 'bank', 0), ('fraud', 'fraud', 0);
    `,
  },
  {
    id: '20261126_0210_customers',
    sql: `
      CREATE TABLE customers (
        id text PRIMARY KEY,
        login text NOT NULL UNIQUE,
        password_hash text NOT NULL,
        totp_secret text,
        totp_pending text,
        created_at bigint NOT NULL
      );
      CREATE TABLE devices (
        id text PRIMARY KEY,
        customer_id text NOT NULL REFERENCES customers (id),
        name text NOT NULL,
        code_hash text,
        code_expires_at bigint,
        attempts integer NOT NULL DEFAULT 0,
        verified_at bigint,
        created_at bigint NOT NULL
      );
      CREATE INDEX devices_customer ON devices (customer_id);
      CREATE TABLE sessions (
        token_hash text PRIMARY KEY,
        customer_id text NOT NULL REFERENCES customers (id),
        device_id text NOT NULL REFERENCES devices (id),
        expires_at bigint NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE TABLE outbox (
        id text PRIMARY KEY,
        recipient text NOT NULL,
        kind text NOT NULL,
        body text NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
    `,
  },
  {
    id: '20261126_0220_parties_and_keys',
    sql: `
      CREATE TABLE parties (
        id text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('vendor', 'peer')),
        name text NOT NULL,
        public_key bytea NOT NULL,
        url text,
        bank_account text,
        created_at bigint NOT NULL
      );
      CREATE TABLE broker_keys (
        key_id text PRIMARY KEY,
        seed bytea NOT NULL,
        public_key bytea NOT NULL,
        created_at bigint NOT NULL,
        retired_at bigint
      );
    `,
  },
  {
    id: '20261126_0230_chains',
    sql: `
      CREATE TABLE chains (
        chain_id text PRIMARY KEY,
        customer_id text NOT NULL REFERENCES customers (id),
        key_id text NOT NULL REFERENCES broker_keys (key_id),
        n integer NOT NULL CHECK (n > 0),
        coin_value bigint NOT NULL CHECK (coin_value > 0),
        touchstone jsonb NOT NULL,
        expires_at bigint NOT NULL,
        server_seed bytea,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'refunded', 'closed')),
        holder text,
        holder_since bigint,
        backup_index integer NOT NULL DEFAULT 0,
        backup_message jsonb,
        created_at bigint NOT NULL
      );
      CREATE INDEX chains_customer ON chains (customer_id, created_at);
      CREATE INDEX chains_expiry ON chains (status, expires_at);
      -- Redeemed (and refunded) ranges (from_index, to_index] of each chain; they must never overlap.
      CREATE TABLE redemptions (
        claim_id text PRIMARY KEY,
        chain_id text NOT NULL REFERENCES chains (chain_id),
        party_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('redemption', 'refund')),
        from_index integer NOT NULL,
        to_index integer NOT NULL,
        to_payword text,
        amount bigint NOT NULL,
        fee bigint NOT NULL,
        claim jsonb,
        created_at bigint NOT NULL,
        CHECK (to_index > from_index AND from_index >= 0)
      );
      CREATE INDEX redemptions_chain ON redemptions (chain_id, to_index);
      CREATE INDEX redemptions_party ON redemptions (party_id, created_at);
      CREATE TABLE fraud_evidence (
        id text PRIMARY KEY,
        chain_id text NOT NULL,
        party_id text NOT NULL,
        reason text NOT NULL,
        claim jsonb NOT NULL,
        conflicts_with text,
        created_at bigint NOT NULL
      );
      CREATE INDEX fraud_chain ON fraud_evidence (chain_id);
    `,
  },
  {
    id: '20261126_0240_payouts',
    sql: `
      CREATE TABLE payout_runs (
        id text PRIMARY KEY,
        started_at bigint NOT NULL,
        finished_at bigint,
        payouts integer NOT NULL DEFAULT 0,
        total bigint NOT NULL DEFAULT 0
      );
      CREATE TABLE payouts (
        id text PRIMARY KEY,
        run_id text NOT NULL REFERENCES payout_runs (id),
        party_id text NOT NULL,
        bank_account text NOT NULL,
        amount bigint NOT NULL CHECK (amount > 0),
        status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at bigint NOT NULL,
        bank_transfer_id text,
        last_error text,
        created_at bigint NOT NULL,
        completed_at bigint
      );
      CREATE INDEX payouts_due ON payouts (status, next_attempt_at);
      -- Bank movements the broker starts (loads, unloads), recorded before the call so a crash or a
      -- time-out is resolved by asking the bank, never by guessing.
      CREATE TABLE bank_movements (
        id text PRIMARY KEY,
        customer_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('load', 'unload')),
        amount bigint NOT NULL CHECK (amount > 0),
        bank_account text NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
        created_at bigint NOT NULL,
        completed_at bigint
      );
    `,
  },
  {
    id: '20261126_0250_chain_holdings',
    sql: `
      -- Who held each chain over which range of indexes: a vendor may redeem only coins it accepted while
      -- it held the chain, from the index it got it at to the index it handed it on at.
      CREATE TABLE chain_holdings (
        chain_id text NOT NULL REFERENCES chains (chain_id),
        seq integer NOT NULL,
        party_id text NOT NULL,
        start_index integer NOT NULL,
        end_index integer,
        started_at bigint NOT NULL,
        PRIMARY KEY (chain_id, seq)
      );
      CREATE INDEX chain_holdings_party ON chain_holdings (chain_id, party_id);
    `,
  },
  {
    id: '20261126_0260_server_wallets',
    sql: `
      -- Server-side wallets: a customer lets one vendor debit its broker-held balance, up to a cap per day
      -- or in total. Each browser that signed in there holds a bearer token (only its hash is kept here);
      -- charges are also signed by the vendor, so a token is useless to anyone else.
      CREATE TABLE wallet_grants (
        id text PRIMARY KEY,
        customer_id text NOT NULL REFERENCES customers (id),
        vendor_id text NOT NULL REFERENCES parties (id),
        cap bigint NOT NULL CHECK (cap >= 0),
        period text NOT NULL CHECK (period IN ('day', 'total')),
        created_at bigint NOT NULL,
        revoked_at bigint,
        UNIQUE (customer_id, vendor_id)
      );
      -- One-time codes of the sign-in redirect, traded by the vendor for a token.
      CREATE TABLE wallet_codes (
        code_hash text PRIMARY KEY,
        grant_id text NOT NULL REFERENCES wallet_grants (id),
        expires_at bigint NOT NULL
      );
      CREATE TABLE wallet_tokens (
        token_hash text PRIMARY KEY,
        grant_id text NOT NULL REFERENCES wallet_grants (id),
        created_at bigint NOT NULL
      );
      CREATE INDEX wallet_tokens_grant ON wallet_tokens (grant_id);
      CREATE TABLE wallet_charges (
        id text PRIMARY KEY,
        grant_id text NOT NULL REFERENCES wallet_grants (id),
        amount bigint NOT NULL CHECK (amount > 0),
        fee bigint NOT NULL CHECK (fee >= 0),
        resource text,
        -- How many payees the charge was split among (its transfers are <id>/p0 … <id>/p(n-1)).
        payees integer NOT NULL CHECK (payees >= 1),
        status text NOT NULL CHECK (status IN ('charged', 'voided')),
        created_at bigint NOT NULL,
        voided_at bigint
      );
      CREATE INDEX wallet_charges_grant ON wallet_charges (grant_id, created_at);
      -- Messages written in the same millisecond keep their order (the newest code is the last).
      ALTER TABLE outbox ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
    `,
  },
  {
    id: '20261126_0270_login_failures',
    sql: `
      -- Sign-in attempts per login (known or not) since first_at that have not succeeded yet; too many in
      -- a window refuse the login until the window is over. A whole successful sign-in clears the row.
      CREATE TABLE login_failures (
        login text PRIMARY KEY,
        failures integer NOT NULL,
        first_at bigint NOT NULL
      );
    `,
  },
  {
    id: '20261205_0100_leases',
    sql: `
      -- A holding is a lease (docs/protocol.md §8.4): the holder accepts coins only until lease_until (Unix
      -- ms, broker clock); backups and re-claims renew it. The broker moves a chain away from its holder
      -- only by the holder's signed hand-over answer, or after the lease has run out.
      ALTER TABLE chains ADD COLUMN lease_until bigint;
      -- A refund asked for and not yet done: the customer's stated spent index; the lease is not renewed
      -- from then on, and the refund completes on the holder's hand-over answer or when the lease is over.
      ALTER TABLE chains ADD COLUMN refund_requested_at bigint;
      ALTER TABLE chains ADD COLUMN refund_stated_index integer;
      -- A holding that ended without the holder's signed final index (its lease ran out: take-over, or a
      -- refund the holder did not answer) has a soft end: coins it accepted under its lease beyond end_index
      -- stay redeemable by it, and any overlap they make is charged to the chain's owner.
      ALTER TABLE chain_holdings ADD COLUMN soft_end boolean NOT NULL DEFAULT false;
      -- Coins credited twice (two vendors, or a vendor and the refund) because the owner spent them twice:
      -- charged back to the owner's account, the shortfall to the broker's fraud (loss) account.
      CREATE TABLE charge_backs (
        id text PRIMARY KEY,
        chain_id text NOT NULL REFERENCES chains (chain_id),
        customer_id text NOT NULL,
        claim_id text NOT NULL,
        coins integer NOT NULL CHECK (coins > 0),
        amount bigint NOT NULL CHECK (amount > 0),
        from_customer bigint NOT NULL CHECK (from_customer >= 0),
        from_broker bigint NOT NULL CHECK (from_broker >= 0),
        created_at bigint NOT NULL
      );
      CREATE INDEX charge_backs_chain ON charge_backs (chain_id);
      CREATE INDEX chains_refunding ON chains (refund_requested_at) WHERE refund_requested_at IS NOT NULL;
    `,
  },
  {
    id: '20261205_0200_device_code_limits',
    sql: `
      -- Device codes: how many were sent to a device and when the last one went (resends back off and are
      -- capped), and its wrong codes over all of its codes (a resend does not reset them).
      ALTER TABLE devices ADD COLUMN codes_sent integer NOT NULL DEFAULT 1;
      ALTER TABLE devices ADD COLUMN last_code_at bigint;
      ALTER TABLE devices ADD COLUMN failures integer NOT NULL DEFAULT 0;
    `,
  },
  {
    id: '20261206_0100_party_invitations',
    sql: `
      -- Invitations to register a vendor or peer (POST /parties) where registration is not open: made by an
      -- operator, used once, stored by the SHA-256 of the token only.
      CREATE TABLE party_invitations (
        token_hash bytea PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('vendor', 'peer')),
        party_id text,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        used_by text,
        used_at bigint
      );
    `,
  },
];
