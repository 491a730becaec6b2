/**
 * P2P (docs/p2p.md §3, docs/protocol.md §8.8): a chain held from the payer's own signed index. The payment
 * part carries the chain's touchstone and the payer's index (`lastIndex`, handed to this peer): the
 * touchstone is checked under the broker's keys, and the index under the key of the chain's owner — the
 * peer that bought it, as the CIS names it (looked up once per chain: the CIS redeems a holding only from
 * the owner's index, so one signed by anybody else would be a chunk sold for nothing). This peer then
 * holds the chain from there, with no directory and no lease. Overlap detection at redemption is the
 * defence against a payer showing the same stale index to two peers.
 */
import { fromBase64url, type PaymentPart, verifyIndex } from '@netpay/protocol';
import type { ChainOwners, GateContext } from '../deps.ts';
import { answer, type GateAnswer, type Refuse } from '../errors.ts';
import type { HeldChain } from '../store/store.ts';
import { checkTouchstone } from './acquire.ts';

export async function acquireOffline(
  ctx: GateContext,
  owners: ChainOwners,
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
  const owner = await ownerOf(owners, part.chainId, index.vendorId, refuse);
  if ('status' in owner) return owner;
  // From the point this peer trusts already (its own state, if the index is not behind it; else the root):
  // one hash per new coin.
  const anchor =
    held && held.acceptedIndex <= index.index
      ? { index: held.acceptedIndex, payword: held.acceptedPayword }
      : { index: 0, payword: fromBase64url(t.root)! };
  const checked = verifyIndex(index, {
    vendorKey: owner.publicKey,
    chainId: part.chainId,
    handedTo: ctx.vendorId,
    touchstone: t,
    anchor,
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

/** The chain's owner, if the index is its: else the refusal (not a P2P chain, another signer, frozen, no CIS). */
async function ownerOf(owners: ChainOwners, chainId: string, signer: string, refuse: Refuse) {
  let found: Awaited<ReturnType<ChainOwners>>;
  try {
    found = await owners(chainId);
  } catch {
    return answer('broker_unavailable', "the CIS cannot be reached to look up the chain's owner; try again");
  }
  if (!found) return refuse('chain_unknown', `chain ${chainId} was not bought by a peer at this CIS`);
  if (found.owner !== signer)
    return refuse(
      'bad_signature',
      `lastIndex must be signed by the chain's owner ${found.owner}, not ${signer}`,
    );
  if (found.frozen) return refuse('peer_frozen', `peer ${signer} is frozen at the CIS for double spending`);
  return found;
}
