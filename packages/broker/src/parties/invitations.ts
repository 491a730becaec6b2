import type { Queryable } from '@netpay/db';
import { sha256, toBase64url, utf8 } from '@netpay/protocol';
import type { BrokerContext } from '../context.ts';
import { fail } from '../errors.ts';
import * as store from './store.ts';

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

export async function createInvitation(
  d: Pick<BrokerContext, 'db' | 'clock' | 'random'>,
  r: InvitationRequest,
) {
  const token = `inv_${toBase64url(d.random(24))}`;
  const expiresAt = d.clock() + r.expiresInSeconds * 1000;
  await store.insertInvitation(d.db, {
    tokenHash: tokenHash(token),
    kind: r.kind,
    partyId: r.partyId ?? null,
    createdAt: d.clock(),
    expiresAt,
  });
  return { token, kind: r.kind, partyId: r.partyId ?? null, expiresAt: new Date(expiresAt).toISOString() };
}

/** Uses up an invitation for a new party in `tx`, or throws invitation_required / invitation_invalid. */
export async function useInvitation(
  d: Pick<BrokerContext, 'config' | 'clock'>,
  tx: Queryable,
  party: { id: string; kind: 'vendor' | 'peer' },
  token: string | undefined,
): Promise<void> {
  if (registrationOpen(d)) return;
  if (!token)
    throw fail(
      'invitation_required',
      'registering a new vendor or peer here needs an invitation from the operator',
    );
  const row = await store.lockInvitation(tx, tokenHash(token));
  const why = !row
    ? 'is not known'
    : row.used_by !== null
      ? 'was used already'
      : Number(row.expires_at) <= d.clock()
        ? 'has expired'
        : row.kind !== party.kind
          ? `is for a ${row.kind}`
          : row.party_id !== null && row.party_id !== party.id
            ? `is for the party id ${row.party_id}`
            : undefined;
  if (why) throw fail('invitation_invalid', `the invitation ${why}`);
  await store.markInvitationUsed(tx, tokenHash(token), party.id, d.clock());
}
