import type { Queryable } from '@netpay/db';
import { fromBase64url, toBase64url } from '@netpay/protocol';
import type { BrokerContext } from '../context.ts';
import { fail } from '../errors.ts';
import { vendorAccount } from '../ledger/ledger.ts';
import { createInvitation, type InvitationRequest, useInvitation } from './invitations.ts';

export interface PartyRegistration {
  readonly id: string;
  readonly kind: 'vendor' | 'peer';
  readonly name: string;
  readonly publicKey: string;
  readonly url?: string;
  readonly bankAccount?: string;
  /** Needed for a new party unless registration is open (invitations.ts). */
  readonly invitation?: string;
}

/**
 * Vendors and peers: each registers an Ed25519 public key (proving possession by signing the registration
 * request with it) and signs its later requests with it. Their earnings accrue in a vendor ledger account.
 * A new party needs an operator's invitation unless registration is open (dev mode).
 */
export function createPartyService(ctx: BrokerContext) {
  const keyCache = new Map<string, Uint8Array>();

  async function register(p: PartyRegistration) {
    const key = fromBase64url(p.publicKey)!;
    return ctx.db.transaction(async (tx) => {
      const [existing] = await tx.query<{ public_key: Uint8Array }>(
        'SELECT public_key FROM parties WHERE id = $1',
        [p.id],
      );
      if (existing) {
        if (toBase64url(existing.public_key) !== p.publicKey)
          throw fail('party_exists', `party ${p.id} is registered with another key`);
        await tx.query('UPDATE parties SET name = $2, url = $3, bank_account = $4 WHERE id = $1', [
          p.id,
          p.name,
          p.url ?? null,
          p.bankAccount ?? null,
        ]);
      } else {
        await useInvitation(ctx, tx, p, p.invitation);
        await tx.query(
          'INSERT INTO parties (id, kind, name, public_key, url, bank_account, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [p.id, p.kind, p.name, key, p.url ?? null, p.bankAccount ?? null, BigInt(ctx.clock())],
        );
        await ctx.ledger.openAccount(tx, vendorAccount(p.id), 'vendor');
      }
      return get(p.id, tx);
    });
  }

  async function get(id: string, q: Queryable = ctx.db) {
    const [row] = await q.query<{
      id: string;
      kind: string;
      name: string;
      public_key: Uint8Array;
      url: string | null;
      bank_account: string | null;
    }>('SELECT id, kind, name, public_key, url, bank_account FROM parties WHERE id = $1', [id]);
    if (!row) throw fail('unknown_party', `no vendor or peer ${id} is registered`);
    return {
      id: row.id,
      kind: row.kind as 'vendor' | 'peer',
      name: row.name,
      publicKey: toBase64url(row.public_key),
      url: row.url,
      bankAccount: row.bank_account,
      balance: (await ctx.ledger.balance(q, vendorAccount(row.id))).toString(),
    };
  }

  /** Public key of a registered party, for signed requests and signed messages (cached: keys never change). */
  async function publicKey(id: string, q: Queryable = ctx.db): Promise<Uint8Array | undefined> {
    const cached = keyCache.get(id);
    if (cached) return cached;
    const [row] = await q.query<{ public_key: Uint8Array }>('SELECT public_key FROM parties WHERE id = $1', [
      id,
    ]);
    if (row) keyCache.set(id, row.public_key);
    return row?.public_key;
  }

  return {
    register,
    get,
    publicKey,
    invite: (r: InvitationRequest) => createInvitation(ctx, r),
  };
}

export type PartyService = ReturnType<typeof createPartyService>;
