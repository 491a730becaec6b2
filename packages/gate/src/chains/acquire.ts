/**
 * The chain as this vendor holds it under a valid lease (docs/protocol.md §7.2–7.4): taken through the
 * broker's directory the first time, renewed there whenever the lease has run out (after a restart, or an
 * idle spell), or handed over from the vendor holding it. A chain the broker moved on meanwhile (its lease
 * ran out) or refunded is no longer held here.
 */
import { fromBase64url, isNetPayError, type Touchstone, verifyTouchstone } from '@netpay/protocol';
import { type ClaimAnswer, refusedByBroker } from '../broker-client.ts';
import type { GateContext } from '../deps.ts';
import { answer, type GateAnswer, type Refuse } from '../errors.ts';
import type { HeldChain } from '../store/store.ts';
import { handoverFrom } from './handover-in.ts';

export async function acquire(
  ctx: GateContext,
  chainId: string,
  refuse: Refuse,
): Promise<HeldChain | GateAnswer> {
  const { store, clock } = ctx;
  // A chain not in memory is claimed while the database is read: met here for the first time (the usual
  // case) it is claimed anyway, and a claim by its holder only renews the lease.
  let sentAt = clock();
  let asked = store.peek(chainId) ? undefined : settled(ctx.broker.claim(chainId));
  const held = await store.get(chainId);
  if (held?.status === 'held' && store.leaseValid(chainId, clock())) return held;
  // Past expiry no lease is granted: the payment check refuses its coins as touchstone_expired.
  if (held?.status === 'held' && clock() >= held.touchstone.expiresAt * 1000) return held;
  if (!asked) {
    sentAt = clock();
    asked = settled(ctx.broker.claim(chainId));
  }
  const claimed = await asked;
  let claim: ClaimAnswer;
  if (claimed.ok) claim = claimed.value;
  else {
    const e = claimed.error;
    if (!refusedByBroker(e))
      return answer('broker_unavailable', 'the broker cannot be reached to check this chain; try again');
    if (held?.status === 'held') await store.releaseTakenOver(chainId);
    return claimRefused(e, refuse);
  }
  const t = claim.touchstone;
  if (held?.status === 'held') {
    if (claim.granted) {
      ctx.keepLease(chainId, sentAt, claim.leaseMs);
      return held;
    }
    await store.releaseTakenOver(chainId);
  }
  const checked = await checkTouchstone(ctx, t, refuse);
  if (checked) return checked;
  if (!claim.granted) return handoverFrom(ctx, t, claim.holder, refuse);
  const start = claim.backup
    ? { index: claim.backup.index, payword: fromBase64url(claim.backup.payword)! }
    : { index: 0, payword: fromBase64url(t.root)! };
  const chain = await store.hold(t, start);
  ctx.keepLease(chainId, sentAt, claim.leaseMs);
  return chain;
}

/** A promise's outcome as a value: it may be left unread without an unhandled rejection. */
const settled = <T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

/** The broker's refusal of a claim, in the gate's codes. */
function claimRefused(e: { code: string; message: string }, refuse: Refuse): GateAnswer {
  if (isNetPayError(e, 'chain_refunded', 'chain_refunding'))
    return refuse('chain_refunded', `this chain accepts no more payments: ${e.message}`);
  if (isNetPayError(e, 'chain_expired')) return refuse('touchstone_expired', e.message);
  if (isNetPayError(e, 'chain_not_found')) return refuse('chain_unknown', e.message);
  return answer('chain_not_held', `the broker refused this chain: ${e.message}`);
}

/** The touchstone verified under the broker's published key, or the answer refusing it. */
export async function checkTouchstone(
  ctx: GateContext,
  t: Touchstone,
  refuse: Refuse,
): Promise<GateAnswer | undefined> {
  let key: Uint8Array | undefined;
  try {
    key = await ctx.keys.find(t.brokerId, t.keyId);
  } catch {
    return answer('broker_unavailable', "the broker's keys cannot be fetched to check this chain; try again");
  }
  const checked = verifyTouchstone(
    t,
    (b, k) => (b === t.brokerId && k === t.keyId ? key : undefined),
    Math.floor(ctx.clock() / 1000),
  );
  return checked.ok ? undefined : refuse(checked.error.code, checked.error.message);
}
