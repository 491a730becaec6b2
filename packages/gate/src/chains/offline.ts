/**
 * P2P (docs/p2p.md §3, docs/protocol.md §8.8): a chain held from the payer's own signed index, checked
 * offline. The payment part carries the chain's touchstone and the payer's index (`lastIndex`, signed by
 * the payer's peer key, handed to this peer): the touchstone is checked under the broker's keys, the
 * index under the payer's key (looked up once per payer), and this peer holds the chain from there, with
 * no directory round trip and no lease. Overlap detection at redemption is the defence against a payer
 * showing the same stale index to two peers.
 */
import { fromBase64url, type PaymentPart, verifyIndex } from '@netpay/protocol';
import type { GateContext, PeerKeys } from '../deps.ts';
import { answer, type GateAnswer, type Refuse } from '../errors.ts';
import type { HeldChain } from '../store/store.ts';
import { checkTouchstone } from './acquire.ts';

export async function acquireOffline(
  ctx: GateContext,
  peers: PeerKeys,
  part: PaymentPart,
  refuse: Refuse,
): Promise<HeldChain | GateAnswer> {
  const held = ctx.store.peek(part.chainId) ?? (await ctx.store.get(part.chainId));
  const { touchstone: t, lastIndex: index } = part;
  if (!t || !index) {
    if (held?.status === 'held') return held;
    return refuse(
      'chain_unknown',
      "a peer's first payment from a chain carries the chain's touchstone and the payer's signed index (lastIndex)",
    );
  }
  // An index at or behind what this peer holds says nothing new: the payment is checked against its own state.
  if (held?.status === 'held' && index.index <= held.acceptedIndex) return held;
  if (t.chainId !== part.chainId) return refuse('chain_mismatch', 'the touchstone is for another chain');
  const badTouchstone = await checkTouchstone(ctx, t, refuse);
  if (badTouchstone) return badTouchstone;
  const payer = await payerKey(peers, index.vendorId, refuse);
  if ('status' in payer) return payer;
  const checked = verifyIndex(index, {
    vendorKey: payer.publicKey,
    chainId: part.chainId,
    handedTo: ctx.vendorId,
    touchstone: t,
    anchor: { index: 0, payword: fromBase64url(t.root)! },
  });
  if (!checked.ok) return refuse(checked.error.code, `lastIndex: ${checked.error.message}`);
  // Held here at an earlier point: that holding ends (what it accepted stays this peer's to redeem), and a
  // new one begins at the payer's index. A chain handed before resumes from the later of the two points.
  if (held?.status === 'held') await ctx.store.release(part.chainId);
  const mine = held && held.acceptedIndex > index.index;
  const start = mine
    ? { index: held.acceptedIndex, payword: held.acceptedPayword }
    : { index: index.index, payword: fromBase64url(index.payword)! };
  const chain = await ctx.store.hold(t, start, index);
  if (chain.status !== 'held')
    return answer('payment_conflict', 'this chain moved on here meanwhile; nothing was charged, retry');
  return chain;
}

/** The payer's registered key, or the refusal: unknown at the CIS, frozen, or the CIS unreachable. */
async function payerKey(peers: PeerKeys, peerId: string, refuse: Refuse) {
  let found: Awaited<ReturnType<PeerKeys>>;
  try {
    found = await peers(peerId);
  } catch {
    return answer('broker_unavailable', "the CIS cannot be reached to look up the payer's key; try again");
  }
  if (!found) return refuse('bad_signature', `no peer ${peerId} is registered at the CIS`);
  if (found.frozen) return refuse('peer_frozen', `peer ${peerId} is frozen at the CIS for double spending`);
  return found;
}
