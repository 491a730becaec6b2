/**
 * The SQL of vendors and peers: the parties and party_invitations tables (migrations 0220,
 * 20261206_0100, 20261210_0100_peer_accounts). Nothing else in the broker touches them; each function
 * runs on the Queryable it is given (the database, or the caller's transaction). Times are Unix ms.
 */
import type { Queryable } from '@netpay/db';

export interface PartyRow {
  id: string;
  kind: string;
  name: string;
  public_key: Uint8Array;
  url: string | null;
  bank_account: string | null;
  /** A peer frozen for a double spend (Unix ms), or null. */
  frozen_at: bigint | null;
}

export async function partyById(q: Queryable, id: string): Promise<PartyRow | undefined> {
  const [row] = await q.query<PartyRow>(
    'SELECT id, kind, name, public_key, url, bank_account, frozen_at FROM parties WHERE id = $1',
    [id],
  );
  return row;
}

/** Locks a party's row for the caller's transaction: its kind, key and whether it is frozen. */
export async function lockParty(q: Queryable, id: string) {
  const [row] = await q.query<{ kind: string; public_key: Uint8Array; frozen_at: bigint | null }>(
    'SELECT kind, public_key, frozen_at FROM parties WHERE id = $1 FOR UPDATE',
    [id],
  );
  return row;
}

/** Freezes the peers `ids` at `at` (Unix ms); one frozen already keeps its first time. Locks their rows. */
export async function freezeParties(q: Queryable, ids: readonly string[], at: number): Promise<void> {
  await q.query('UPDATE parties SET frozen_at = $2 WHERE id = ANY($1::text[]) AND frozen_at IS NULL', [
    [[...new Set(ids)].sort()],
    BigInt(at),
  ]);
}

export async function partyKey(q: Queryable, id: string): Promise<Uint8Array | undefined> {
  const [row] = await q.query<{ public_key: Uint8Array }>('SELECT public_key FROM parties WHERE id = $1', [
    id,
  ]);
  return row?.public_key;
}

/** The names of the parties `ids` (those that exist), by id. */
export async function partyNames(q: Queryable, ids: readonly string[]): Promise<Map<string, string>> {
  const rows = await q.query<{ id: string; name: string }>(
    'SELECT id, name FROM parties WHERE id = ANY($1::text[])',
    [[...new Set(ids)]],
  );
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** The kinds of parties by id ('vendor', 'peer'); ids not registered are left out. */
export async function partyKinds(q: Queryable, ids: readonly string[]): Promise<Map<string, string>> {
  const rows = await q.query<{ id: string; kind: string }>(
    'SELECT id, kind FROM parties WHERE id = ANY($1::text[])',
    [[...new Set(ids)]],
  );
  return new Map(rows.map((r) => [r.id, r.kind]));
}

export async function insertParty(
  q: Queryable,
  p: {
    id: string;
    kind: 'vendor' | 'peer';
    name: string;
    publicKey: Uint8Array;
    url: string | null;
    bankAccount: string | null;
    createdAt: number;
  },
): Promise<void> {
  await q.query(
    'INSERT INTO parties (id, kind, name, public_key, url, bank_account, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [p.id, p.kind, p.name, p.publicKey, p.url, p.bankAccount, BigInt(p.createdAt)],
  );
}

/** A registered party's details (its kind and key never change). */
export async function updateParty(
  q: Queryable,
  p: { id: string; name: string; url: string | null; bankAccount: string | null },
): Promise<void> {
  await q.query('UPDATE parties SET name = $2, url = $3, bank_account = $4 WHERE id = $1', [
    p.id,
    p.name,
    p.url,
    p.bankAccount,
  ]);
}

// ── invitations (stored by the SHA-256 of the token) ───────────────────────────────────────────────

export async function insertInvitation(
  q: Queryable,
  i: {
    tokenHash: Uint8Array;
    kind: 'vendor' | 'peer';
    partyId: string | null;
    createdAt: number;
    expiresAt: number;
  },
): Promise<void> {
  await q.query(
    'INSERT INTO party_invitations (token_hash, kind, party_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
    [i.tokenHash, i.kind, i.partyId, BigInt(i.createdAt), BigInt(i.expiresAt)],
  );
}

export async function lockInvitation(q: Queryable, tokenHash: Uint8Array) {
  const [row] = await q.query<{
    kind: string;
    party_id: string | null;
    expires_at: bigint;
    used_by: string | null;
  }>('SELECT kind, party_id, expires_at, used_by FROM party_invitations WHERE token_hash = $1 FOR UPDATE', [
    tokenHash,
  ]);
  return row;
}

export async function markInvitationUsed(
  q: Queryable,
  tokenHash: Uint8Array,
  partyId: string,
  at: number,
): Promise<void> {
  await q.query('UPDATE party_invitations SET used_by = $2, used_at = $3 WHERE token_hash = $1', [
    tokenHash,
    partyId,
    BigInt(at),
  ]);
}
