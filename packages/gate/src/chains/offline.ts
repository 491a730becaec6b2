/**
 * P2P (docs/p2p.md §3, docs/protocol.md §8.8): a chain held from the payer's own signed index, checked
 * offline. The payment part carries the chain's touchstone, which the CIS signed naming the chain's owner
 * (the peer that bought it) and its key, and the owner's index (`lastIndex`, handed to this peer): the
 * touchstone is checked under the broker's keys and the index under the owner's key. No CIS, directory
 * or lease is asked; only the list of frozen peers this peer keeps (`FrozenPeers`). Every part also
 * carries the owner's index at the part's own point (`paidIndex`): the evidence the claims carry as
 * `endIndex`, so that a seller can claim only coins the owner paid it, never paywords a colluding seller
 * passed on. Overlap detection at redemption is the defence against a payer showing the same stale index
 * to two peers.
 */
import {
  fromBase64url,
  type IndexMessage,
  type PaymentPart,
  type Touchstone,
  verifyIndex,
  verifyMessageSignature,
} from '@netpay/protocol';
import type { FrozenPeers, GateContext } from '../deps.ts';
import { answer, type GateAnswer, isAnswer, type Refuse } from '../errors.ts';
import type { HeldChain } from '../store/store.ts';
import { checkTouchstone } from './acquire.ts';

interface Owner {
  readonly owner: string;
  readonly publicKey: Uint8Array;
}

export async function acquireOffline(
  ctx: GateContext,
  frozen: FrozenPeers,
  part: PaymentPart,
  refuse: Refuse,
): Promise<HeldChain | GateAnswer> {
  const held = ctx.store.peek(part.chainId) ?? (await ctx.store.get(part.chainId));
  const holding = held?.status === 'held' ? held : undefined;
  const proof = part.touchstone && part.lastIndex ? { t: part.touchstone, index: part.lastIndex } : undefined;
  // A chain held here: its owner as its touchstone (checked when the holding began) names it.
  const t = holding?.touchstone ?? proof?.t;
  if (!t)
    return refuse(
      'chain_unknown',
      "a peer's first payment from a chain carries the chain's touchstone and the payer's signed index (lastIndex)",
    );
  const owner = ownerOf(t, frozen, refuse);
  if (isAnswer(owner)) return owner;
  const unpaid = paidIndexRefusal(ctx, part, owner);
  if (unpaid) return refuse(unpaid[0], unpaid[1]);
  // An index at or behind what this peer holds says nothing new: the payment is checked against its own state.
  if (holding && (!proof || proof.index.index <= holding.acceptedIndex)) return holding;
  if (!proof) throw new Error('unreachable: a chain not held here was refused above without its proof');
  return holdFrom(ctx, part.chainId, proof, owner, held, refuse);
}

/** The chain's owner as its touchstone names it, unless frozen; a touchstone naming none is no P2P chain's. */
function ownerOf(t: Touchstone, frozen: FrozenPeers, refuse: Refuse): Owner | GateAnswer {
  const publicKey = t.ownerKey === undefined ? undefined : fromBase64url(t.ownerKey);
  if (t.owner === undefined || !publicKey)
    return refuse(
      'chain_unknown',
      `chain ${t.chainId} was not bought by a peer: its touchstone names no owner`,
    );
  if (frozen(t.owner))
    return refuse('peer_frozen', `peer ${t.owner} is frozen at the CIS for double spending`);
  return { owner: t.owner, publicKey };
}

/** A new holding from the payer's signed index, checked under the broker's and the owner's keys. */
async function holdFrom(
  ctx: GateContext,
  chainId: string,
  { t, index }: { t: Touchstone; index: IndexMessage },
  owner: Owner,
  held: HeldChain | undefined,
  refuse: Refuse,
): Promise<HeldChain | GateAnswer> {
  if (t.chainId !== chainId) return refuse('chain_mismatch', 'the touchstone is for another chain');
  if (index.vendorId !== owner.owner)
    return refuse(
      'bad_signature',
      `lastIndex must be signed by the chain's owner ${owner.owner}, not ${index.vendorId}`,
    );
  const badTouchstone = await checkTouchstone(ctx, t, refuse);
  if (badTouchstone) return badTouchstone;
  // From the point this peer trusts already (its own state, if the index is not behind it; else the root):
  // one hash per new coin.
  const anchor =
    held && held.acceptedIndex <= index.index
      ? { index: held.acceptedIndex, payword: held.acceptedPayword }
      : { index: 0, payword: fromBase64url(t.root)! };
  const checked = verifyIndex(index, {
    vendorKey: owner.publicKey,
    chainId,
    handedTo: ctx.vendorId,
    touchstone: t,
    anchor,
  });
  if (!checked.ok) return refuse(checked.error.code, `lastIndex: ${checked.error.message}`);
  // Held here at an earlier point: that holding ends (what it accepted stays this peer's to redeem), and a
  // new one begins at the payer's index. A chain handed before resumes from the later of the two points.
  if (held?.status === 'held') await ctx.store.release(chainId);
  const mine = held && held.acceptedIndex > index.index;
  const start = mine
    ? { index: held.acceptedIndex, payword: held.acceptedPayword }
    : { index: index.index, payword: fromBase64url(index.payword)! };
  const chain = await ctx.store.hold(t, start, index);
  if (chain.status !== 'held')
    return answer('payment_conflict', 'this chain moved on here meanwhile; nothing was charged, retry');
  return chain;
}

/**
 * Why the part's `paidIndex` is no evidence that the owner paid this peer up to the part's point, or
 * undefined when it is: signed by the owner, handed to this peer, at the part's own index and payword
 * (which the payment check then verifies on the chain).
 */
function paidIndexRefusal(
  ctx: GateContext,
  part: PaymentPart,
  owner: Owner,
): [Parameters<Refuse>[0], string] | undefined {
  const p = part.paidIndex;
  if (!p)
    return [
      'malformed',
      "a peer's payment part carries the payer's signed index at its own point (paidIndex)",
    ];
  if (p.chainId !== part.chainId || p.index !== part.index || p.payword !== part.payword)
    return ['malformed', "paidIndex must name the part's own chain, index and payword"];
  if (p.handedTo !== ctx.vendorId)
    return ['wrong_recipient', `paidIndex is handed to ${p.handedTo}, not to ${ctx.vendorId}`];
  if (p.vendorId !== owner.owner || !verifyMessageSignature('index', p, owner.publicKey))
    return ['bad_signature', `paidIndex must be signed by the chain's owner ${owner.owner}`];
  return undefined;
}
