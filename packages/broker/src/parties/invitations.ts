import type { Queryable } from '@netpay/db';
import { sha256, toBase64url, utf8 } from '@netpay/protocol';
import type { BrokerContext } from '../context.ts';
import { fail } from '../errors.ts';

/**
 * Invitations to register a vendor or peer (docs/broker.md §6.4). Where registration is not open, a new
 * party needs one: an operator makes it (POST /admin/invitations, `netpay broker invite`), the party sends
 * it once with its registration. Only the token's SHA-256 is stored.
 */
export interface InvitationRequest {
  readonly kind: 'vendor' | 'peer';
  readonly partyId?: string | undefined;
  readonly expiresInSeconds: number;
}

const tokenHash = (token: string) => sha256(utf8(token));

/** Whether a new party must bring an invitation: open registration is the default in dev mode only. */
export const registrationOpen = (ctx: Pick<BrokerContext, 'config'>) =>
  (ctx.config.registration ?? (ctx.config.dev ? 'open' : 'invitation')) === 'open';

export async function createInvitation(ctx: BrokerContext, r: InvitationRequest) {
  const token = `inv_${toBase64url(ctx.random(24))}`;
  const expiresAt = ctx.clock() + r.expiresInSeconds * 1000;
  await ctx.db.query(
    'INSERT INTO party_invitations (token_hash, kind, party_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
    [tokenHash(token), r.kind, r.partyId ?? null, BigInt(ctx.clock()), BigInt(expiresAt)],
  );
  return { token, kind: r.kind, partyId: r.partyId ?? null, expiresAt: new Date(expiresAt).toISOString() };
}

/** Uses up an invitation for a new party in `tx`, or throws invitation_required / invitation_invalid. */
export async function useInvitation(
  ctx: BrokerContext,
  tx: Queryable,
  party: { id: string; kind: 'vendor' | 'peer' },
  token: string | undefined,
): Promise<void> {
  if (registrationOpen(ctx)) return;
  if (!token)
    throw fail(
      'invitation_required',
      'registering a new vendor or peer here needs an invitation from the operator',
    );
  const [row] = await tx.query<{
    kind: string;
    party_id: string | null;
    expires_at: bigint;
    used_by: string | null;
  }>('SELECT kind, party_id, expires_at, used_by FROM party_invitations WHERE token_hash = $1 FOR UPDATE', [
    tokenHash(token),
  ]);
  const why = !row
    ? 'is not known'
    : row.used_by !== null
      ? 'was used already'
      : Number(row.expires_at) <= ctx.clock()
        ? 'has expired'
        : row.kind !== party.kind
          ? `is for a ${row.kind}`
          : row.party_id !== null && row.party_id !== party.id
            ? `is for the party id ${row.party_id}`
            : undefined;
  if (why) throw fail('invitation_invalid', `the invitation ${why}`);
  await tx.query('UPDATE party_invitations SET used_by = $2, used_at = $3 WHERE token_hash = $1', [
    tokenHash(token),
    party.id,
    BigInt(ctx.clock()),
  ]);
}
