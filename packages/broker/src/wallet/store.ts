/**
 * The SQL of server-side wallets: the wallet_grants, wallet_codes, wallet_tokens and wallet_charges
 * tables (migration 0260). Nothing else in the broker touches them; each function runs on the Queryable
 * it is given (the database, or the caller's transaction). Codes and tokens are kept by their hash only;
 * times are Unix ms, amounts bigint minor units.
 */
import type { Queryable } from '@netpay/db';

export type CapPeriod = 'day' | 'total';

export interface GrantRow {
  id: string;
  customer_id: string;
  vendor_id: string;
  cap: bigint;
  period: CapPeriod;
  revoked_at: bigint | null;
  created_at: bigint;
}

/** A grant to insert, or (customer and vendor have one) to update: cap and period only when `set`. */
interface GrantUpsert {
  id: string;
  customerId: string;
  vendorId: string;
  cap: bigint;
  period: CapPeriod;
  createdAt: number;
  setPeriod: boolean;
}

/** Creates or renews (un-revokes) a grant; an existing grant keeps its cap unless `setCap`. */
export async function renewGrant(q: Queryable, g: GrantUpsert & { setCap: boolean }) {
  const [row] = await q.query<{ id: string; cap: bigint; period: CapPeriod }>(
    `INSERT INTO wallet_grants (id, customer_id, vendor_id, cap, period, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (customer_id, vendor_id) DO UPDATE SET revoked_at = NULL,
       cap = CASE WHEN $7 THEN $4 ELSE wallet_grants.cap END,
       period = CASE WHEN $8 THEN $5 ELSE wallet_grants.period END
     RETURNING id, cap, period`,
    [g.id, g.customerId, g.vendorId, g.cap, g.period, BigInt(g.createdAt), g.setCap, g.setPeriod],
  );
  return row!;
}

/** Creates a grant or sets its cap (a revoked grant stays revoked). */
export async function setGrantCap(q: Queryable, g: GrantUpsert): Promise<void> {
  await q.query(
    `INSERT INTO wallet_grants (id, customer_id, vendor_id, cap, period, created_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (customer_id, vendor_id) DO UPDATE SET cap = $4,
       period = CASE WHEN $7 THEN $5 ELSE wallet_grants.period END`,
    [g.id, g.customerId, g.vendorId, g.cap, g.period, BigInt(g.createdAt), g.setPeriod],
  );
}

export async function grantById(q: Queryable, id: string): Promise<GrantRow | undefined> {
  const [g] = await q.query<GrantRow>('SELECT * FROM wallet_grants WHERE id = $1', [id]);
  return g;
}

/** The customer's grants, oldest first, each with whether some browser holds a token for it. */
export async function grantsOf(q: Queryable, customerId: string) {
  return q.query<GrantRow & { signed_in: boolean }>(
    `SELECT g.*, EXISTS (SELECT 1 FROM wallet_tokens t WHERE t.grant_id = g.id) AS signed_in
     FROM wallet_grants g WHERE g.customer_id = $1 ORDER BY g.created_at`,
    [customerId],
  );
}

export async function grantCap(q: Queryable, customerId: string, vendorId: string) {
  const [g] = await q.query<{ cap: bigint; period: CapPeriod }>(
    'SELECT cap, period FROM wallet_grants WHERE customer_id = $1 AND vendor_id = $2',
    [customerId, vendorId],
  );
  return g;
}

/** Revokes the customer's grant for a vendor and forgets its tokens and codes; undefined: no grant. */
export async function revokeGrant(q: Queryable, customerId: string, vendorId: string, at: number) {
  const [g] = await q.query<{ id: string }>(
    'UPDATE wallet_grants SET revoked_at = $3 WHERE customer_id = $1 AND vendor_id = $2 RETURNING id',
    [customerId, vendorId, BigInt(at)],
  );
  if (!g) return undefined;
  await q.query('DELETE FROM wallet_tokens WHERE grant_id = $1', [g.id]);
  await q.query('DELETE FROM wallet_codes WHERE grant_id = $1', [g.id]);
  return g.id;
}

// ── sign-in codes and tokens ───────────────────────────────────────────────────────────────────────

export async function insertCode(
  q: Queryable,
  c: { codeHash: string; grantId: string; expiresAt: bigint },
): Promise<void> {
  await q.query('INSERT INTO wallet_codes (code_hash, grant_id, expires_at) VALUES ($1, $2, $3)', [
    c.codeHash,
    c.grantId,
    c.expiresAt,
  ]);
}

/** Uses up a code of vendor `vendorId`'s, unexpired at `now` and of a grant not revoked: its grant's id. */
export async function takeCode(q: Queryable, codeHash: string, vendorId: string, now: number) {
  const [c] = await q.query<{ grant_id: string }>(
    `DELETE FROM wallet_codes c USING wallet_grants g
     WHERE c.code_hash = $1 AND g.id = c.grant_id AND g.vendor_id = $2 AND c.expires_at >= $3
       AND g.revoked_at IS NULL
     RETURNING c.grant_id`,
    [codeHash, vendorId, BigInt(now)],
  );
  return c?.grant_id;
}

export async function insertToken(
  q: Queryable,
  t: { tokenHash: string; grantId: string; createdAt: number },
): Promise<void> {
  await q.query('INSERT INTO wallet_tokens (token_hash, grant_id, created_at) VALUES ($1, $2, $3)', [
    t.tokenHash,
    t.grantId,
    BigInt(t.createdAt),
  ]);
}

/** The grant of vendor `vendorId` behind a token, locked for a charge. */
export async function lockGrantByToken(q: Queryable, tokenHash: string, vendorId: string) {
  const [grant] = await q.query<GrantRow>(
    `SELECT g.* FROM wallet_tokens t JOIN wallet_grants g ON g.id = t.grant_id
     WHERE t.token_hash = $1 AND g.vendor_id = $2 FOR UPDATE OF g`,
    [tokenHash, vendorId],
  );
  return grant;
}

// ── charges ────────────────────────────────────────────────────────────────────────────────────────

/** What the grant's standing charges made since `since` add up to. */
export async function chargedSince(q: Queryable, grantId: string, since: bigint): Promise<bigint> {
  const [row] = await q.query<{ spent: bigint }>(
    `SELECT COALESCE(sum(amount), 0)::int8 AS spent FROM wallet_charges
     WHERE grant_id = $1 AND status = 'charged' AND created_at >= $2`,
    [grantId, since],
  );
  return row?.spent ?? 0n;
}

export async function chargeExists(q: Queryable, id: string): Promise<boolean> {
  const [taken] = await q.query('SELECT 1 FROM wallet_charges WHERE id = $1', [id]);
  return taken !== undefined;
}

export async function insertCharge(
  q: Queryable,
  c: {
    id: string;
    grantId: string;
    amount: bigint;
    fee: bigint;
    resource: string | null;
    payees: number;
    createdAt: bigint;
  },
): Promise<void> {
  await q.query(
    `INSERT INTO wallet_charges (id, grant_id, amount, fee, resource, payees, status, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'charged', $7)`,
    [c.id, c.grantId, c.amount, c.fee, c.resource, c.payees, c.createdAt],
  );
}

/** A charge of vendor `vendorId`'s by any of `ids`, with its grant's customer, locked for a void. */
export async function lockCharge(q: Queryable, ids: readonly [string, string], vendorId: string) {
  const [c] = await q.query<{
    id: string;
    amount: bigint;
    fee: bigint;
    status: string;
    customer_id: string;
    payees: number;
  }>(
    `SELECT c.id, c.amount, c.fee, c.status, c.payees, g.customer_id FROM wallet_charges c
     JOIN wallet_grants g ON g.id = c.grant_id WHERE c.id IN ($1, $3) AND g.vendor_id = $2 FOR UPDATE OF c`,
    [ids[0], vendorId, ids[1]],
  );
  return c;
}

export async function markChargeVoided(q: Queryable, id: string, at: number): Promise<void> {
  await q.query("UPDATE wallet_charges SET status = 'voided', voided_at = $2 WHERE id = $1", [
    id,
    BigInt(at),
  ]);
}
