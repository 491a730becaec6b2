/**
 * Server-side wallets' grants: the customer signs in at the broker for one vendor (a redirect from the
 * vendor's site), which creates or renews that vendor's grant with a spending cap per day or in total;
 * the vendor trades the one-time code for a token of its own. Customers see, cap and withdraw grants.
 */
import type { Queryable } from '@netpay/db';
import { toBase64url } from '@netpay/protocol';
import { newId } from '../context.ts';
import { fail } from '../errors.ts';
import { hash, type WalletDeps } from './deps.ts';
import type { CapPeriod, GrantRow } from './store.ts';
import * as store from './store.ts';

const DAY_MS = 86_400_000n;

function checkCap(d: Pick<WalletDeps, 'config'>, cap: bigint) {
  if (cap < 0n || cap > d.config.wallet.maxCap) {
    throw fail('limit_exceeded', `a spending cap is between 0 and ${d.config.wallet.maxCap} minor units`);
  }
}

/** The vendor a sign-in is for, and a check that the redirect goes back to that vendor's own site. */
export async function vendorFor(d: Pick<WalletDeps, 'parties'>, vendorId: string, redirectUri: string) {
  const party = await d.parties.get(vendorId);
  let target: URL;
  try {
    target = new URL(redirectUri);
  } catch {
    throw fail('bad_request', 'redirect_uri is not a URL');
  }
  if (
    (target.protocol !== 'https:' && target.protocol !== 'http:') ||
    !party.url ||
    new URL(party.url).origin !== target.origin
  ) {
    throw fail(
      'forbidden',
      `redirect_uri must be on ${vendorId}'s registered site${party.url ? ` (${new URL(party.url).origin})` : ''}`,
    );
  }
  return party;
}

/**
 * The customer approved vendor `vendorId`: creates or renews its grant (keeping an earlier cap unless a
 * new one is given) with a one-time code, and returns where to send the browser back to.
 */
export async function authorize(
  d: WalletDeps,
  customerId: string,
  input: { vendorId: string; redirectUri: string; state?: string; cap?: bigint; period?: CapPeriod },
) {
  await vendorFor(d, input.vendorId, input.redirectUri);
  if (input.cap !== undefined) checkCap(d, input.cap);
  const code = toBase64url(d.random(32));
  const now = BigInt(d.clock());
  const expiresAt = now + BigInt(d.config.wallet.codeTtlSeconds * 1000);
  const grant = await d.db.transaction(async (tx) => {
    const g = await store.renewGrant(tx, {
      id: newId(d, 'grant'),
      customerId,
      vendorId: input.vendorId,
      cap: input.cap ?? d.config.wallet.defaultCap,
      period: input.period ?? 'day',
      createdAt: Number(now),
      setCap: input.cap !== undefined,
      setPeriod: input.period !== undefined,
    });
    await store.insertCode(tx, { codeHash: hash(code), grantId: g.id, expiresAt });
    return g;
  });
  const back = new URL(input.redirectUri);
  back.searchParams.set('code', code);
  if (input.state !== undefined) back.searchParams.set('state', input.state);
  return { redirect: back.toString(), grantId: grant.id, cap: grant.cap, period: grant.period };
}

/**
 * The vendor trades the one-time code for a token of its own for this browser (shown once; only its
 * hash is kept). Each browser that signs in gets its own token, so signing in on a phone leaves the
 * laptop's working.
 */
export async function exchange(
  d: Pick<WalletDeps, 'db' | 'clock' | 'random'>,
  vendorId: string,
  code: string,
) {
  const token = toBase64url(d.random(32));
  const grant = await d.db.transaction(async (tx) => {
    const grantId = await store.takeCode(tx, hash(code), vendorId, d.clock());
    if (!grantId) throw fail('grant_invalid', 'the sign-in code is unknown, used or expired; sign in again');
    await store.insertToken(tx, { tokenHash: hash(token), grantId, createdAt: d.clock() });
    return (await store.grantById(tx, grantId))!;
  });
  return { grantId: grant.id, token, ...(await usage(d, d.db, grant)) };
}

/** The grant's cap and what its vendor has spent of it in the current period (today, or ever). */
export async function usage(d: Pick<WalletDeps, 'clock'>, q: Queryable, grant: GrantRow) {
  const now = BigInt(d.clock());
  const since = grant.period === 'day' ? now - (now % DAY_MS) : 0n;
  const spent = await store.chargedSince(q, grant.id, since);
  const remaining = grant.cap > spent ? grant.cap - spent : 0n;
  return { cap: grant.cap, period: grant.period, spent, remaining };
}

/** The customer's grants, with what each vendor has spent in the current period. */
export async function grants(d: Pick<WalletDeps, 'db' | 'clock' | 'parties'>, customerId: string) {
  const rows = await store.grantsOf(d.db, customerId);
  const names = await d.parties.names(rows.map((g) => g.vendor_id));
  const out = [];
  for (const g of rows) {
    out.push({
      grantId: g.id,
      vendorId: g.vendor_id,
      vendorName: names.get(g.vendor_id)!,
      active: g.signed_in && g.revoked_at === null,
      ...(await usage(d, d.db, g)),
    });
  }
  return out;
}

/** Sets the customer's cap for a vendor (before or after signing in there). */
export async function setCap(
  d: WalletDeps,
  customerId: string,
  vendorId: string,
  cap: bigint,
  period?: CapPeriod,
) {
  checkCap(d, cap);
  await d.parties.get(vendorId);
  // Without a period the grant keeps its own (a new one is per day).
  await store.setGrantCap(d.db, {
    id: newId(d, 'grant'),
    customerId,
    vendorId,
    cap,
    period: period ?? 'day',
    createdAt: d.clock(),
    setPeriod: period !== undefined,
  });
  return (await grants(d, customerId)).find((g) => g.vendorId === vendorId)!;
}

/** Withdraws a vendor's grant: its token stops working at once. Signing in there again renews it. */
export async function revoke(d: Pick<WalletDeps, 'db' | 'clock'>, customerId: string, vendorId: string) {
  await d.db.transaction(async (tx) => {
    const grantId = await store.revokeGrant(tx, customerId, vendorId, d.clock());
    if (!grantId) throw fail('not_found', `you have no wallet grant for ${vendorId}`);
  });
}

/** The customer's current cap for a vendor, if it has a grant there (to show on the sign-in page). */
export async function capOf(d: Pick<WalletDeps, 'db'>, customerId: string, vendorId: string) {
  return store.grantCap(d.db, customerId, vendorId);
}
