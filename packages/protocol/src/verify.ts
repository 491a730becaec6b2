import { bytesEqual, fromBase64url } from './bytes.ts';
import { type ChainPoint, type ChainStep, chainStepper, verifyLink } from './chain.ts';
import type { Claim, IndexMessage, PaymentPart, Touchstone } from './messages.ts';
import { err, ok, type Result } from './result.ts';
import { verifyMessageSignature } from './sign.ts';

/**
 * The protocol's checks as pure functions returning a `Result`. None does I/O; none throws on bad input.
 * Times are Unix seconds.
 */

/** Finds a broker's public key by broker id and key id (current and rotated-out keys alike). */
export type BrokerKeyLookup = (brokerId: string, keyId: string) => Uint8Array | undefined;

export function brokerKeyring(
  entries: readonly { brokerId: string; keyId: string; publicKey: Uint8Array }[],
): BrokerKeyLookup {
  const map = new Map(entries.map((e) => [`${e.brokerId}\n${e.keyId}`, e.publicKey]));
  return (brokerId, keyId) => map.get(`${brokerId}\n${keyId}`);
}

export interface TimeOptions {
  /** Clock skew tolerated for `issuedAt` in the future. Default 300 s. */
  readonly skewSeconds?: number;
}

export function verifyTouchstone(
  touchstone: Touchstone,
  keys: BrokerKeyLookup,
  now: number,
  options: TimeOptions = {},
): Result<Touchstone> {
  const key = keys(touchstone.brokerId, touchstone.keyId);
  if (!key) {
    return err('wrong_broker_key', `no key ${touchstone.keyId} is known for broker ${touchstone.brokerId}`);
  }
  if (!verifyMessageSignature('touchstone', touchstone, key)) {
    return err('bad_signature', 'touchstone signature does not verify under the broker key');
  }
  if (touchstone.issuedAt > now + (options.skewSeconds ?? 300)) {
    return err('touchstone_not_yet_valid', `touchstone is issued in the future (${touchstone.issuedAt})`);
  }
  if (now >= touchstone.expiresAt)
    return err('touchstone_expired', `touchstone expired at ${touchstone.expiresAt}`);
  return ok(touchstone);
}

/** How far a chain is spent at this vendor: the last accepted index and its payword (W(0) = root at first). */
export interface ChainState {
  readonly chainId: string;
  readonly index: number;
  readonly payword: Uint8Array;
}

/** The state of a chain nobody has spent from: index 0 at the touchstone's root. */
export function initialChainState(touchstone: Touchstone): ChainState {
  return { chainId: touchstone.chainId, index: 0, payword: fromBase64url(touchstone.root)! };
}

export interface PaymentOptions {
  /** Most coins one payment may take from one chain. Default 1,000. */
  readonly maxCoins?: number;
  /** Chain-step function for this chain id, to skip re-creating it on a hot path. */
  readonly step?: ChainStep;
}

export interface AcceptedPayment {
  readonly state: ChainState;
  readonly coins: number;
  /** coins × coinValue, in the touchstone's minor units. */
  readonly amount: bigint;
}

/**
 * Checks one chain's part of a payment against the vendor's state for that chain. The touchstone must
 * have passed `verifyTouchstone` when it was first met; here only its expiry is checked again.
 * Cost: one hash per coin paid.
 */
export function verifyPayment(
  state: ChainState | undefined,
  part: PaymentPart,
  touchstone: Touchstone,
  now: number,
  options: PaymentOptions = {},
): Result<AcceptedPayment> {
  if (part.chainId !== touchstone.chainId)
    return err('chain_mismatch', 'payment and touchstone name different chains');
  if (state && state.chainId !== part.chainId) return err('chain_mismatch', 'payment is for another chain');
  if (now >= touchstone.expiresAt)
    return err('touchstone_expired', `touchstone expired at ${touchstone.expiresAt}`);
  const from = state ?? initialChainState(touchstone);
  const payword = fromBase64url(part.payword);
  if (!payword) return err('payword_invalid', 'payword is not base64url');
  const step = options.step ?? chainStepper(fromBase64url(part.chainId)!);
  const linked = verifyLink(
    step,
    from,
    { index: part.index, payword },
    { n: touchstone.n, maxSteps: options.maxCoins ?? 1000 },
  );
  if (!linked.ok) return linked;
  const coins = part.index - from.index;
  return ok({
    state: { chainId: part.chainId, index: part.index, payword },
    coins,
    amount: BigInt(coins) * BigInt(touchstone.coinValue),
  });
}

export interface IndexExpectations {
  /** The signing vendor's public key. */
  readonly vendorKey: Uint8Array;
  readonly chainId?: string;
  /** When set, the index must be handed to this vendor (`null`: must not be handed on). */
  readonly handedTo?: string | null;
  /** When set, the index must lie within the chain (index ≤ n). */
  readonly touchstone?: Touchstone;
  /** When set with the touchstone, the index's payword must lead to this point (cost: one hash per coin). */
  readonly anchor?: ChainPoint;
  readonly maxSteps?: number;
}

export function verifyIndex(index: IndexMessage, expect: IndexExpectations): Result<IndexMessage> {
  if (!verifyMessageSignature('index', index, expect.vendorKey)) {
    return err('bad_signature', `index signature does not verify under the key of vendor ${index.vendorId}`);
  }
  if (expect.chainId !== undefined && index.chainId !== expect.chainId) {
    return err('chain_mismatch', 'index is for another chain');
  }
  if (expect.handedTo !== undefined && index.handedTo !== expect.handedTo) {
    return err(
      'wrong_recipient',
      `index is handed to ${index.handedTo ?? 'nobody'}, not ${expect.handedTo ?? 'nobody'}`,
    );
  }
  const t = expect.touchstone;
  if (t) {
    if (t.chainId !== index.chainId)
      return err('chain_mismatch', 'index and touchstone name different chains');
    if (index.index > t.n)
      return err('index_out_of_range', `index ${index.index} is beyond the chain length ${t.n}`);
    const anchor = expect.anchor;
    if (anchor && index.index === anchor.index) {
      if (!bytesEqual(fromBase64url(index.payword)!, anchor.payword)) {
        return err('payword_invalid', `index payword differs from the known payword at ${anchor.index}`);
      }
    } else if (anchor) {
      const linked = verifyLink(
        chainStepper(fromBase64url(index.chainId)!),
        anchor,
        { index: index.index, payword: fromBase64url(index.payword)! },
        { n: t.n, maxSteps: expect.maxSteps ?? t.n },
      );
      if (!linked.ok) return linked;
    }
  }
  return ok(index);
}

export interface ClaimContext {
  readonly touchstone: Touchstone;
  /** The claiming vendor's public key. */
  readonly vendorKey: Uint8Array;
  /**
   * A point of the chain the broker already trusts, at or before `claim.from`: the highest verified point
   * at or before it (the end of an earlier redeemed range, a verified index, or the root). Ranges may be
   * redeemed out of order, so this is not always the end of the most recent claim. Verification hashes
   * from `claim.to` down to it, one hash per coin.
   */
  readonly anchor: ChainPoint;
  /** Most coins one claim may cover (to.index − anchor.index). Default: the whole chain. */
  readonly maxSteps?: number;
}

export interface VerifiedClaim {
  readonly claim: Claim;
  readonly coins: number;
  readonly amount: bigint;
}

export function verifyClaim(claim: Claim, ctx: ClaimContext): Result<VerifiedClaim> {
  const t = ctx.touchstone;
  if (claim.chainId !== t.chainId) return err('chain_mismatch', 'claim and touchstone name different chains');
  if (!verifyMessageSignature('claim', claim, ctx.vendorKey)) {
    return err('bad_signature', `claim signature does not verify under the key of vendor ${claim.vendorId}`);
  }
  const { from, to } = claim;
  if (to.index <= from.index) return err('invalid_range', 'a claim must cover at least one coin');
  if (to.index > t.n) return err('index_out_of_range', `index ${to.index} is beyond the chain length ${t.n}`);
  if (from.index < ctx.anchor.index) {
    return err(
      'invalid_range',
      `claim starts at ${from.index}, before the verified point ${ctx.anchor.index}`,
    );
  }
  const maxSteps = ctx.maxSteps ?? t.n;
  if (to.index - ctx.anchor.index > maxSteps) {
    return err(
      'too_many_coins',
      `claim covers ${to.index - ctx.anchor.index} coins, above the limit of ${maxSteps}`,
    );
  }
  const step = chainStepper(fromBase64url(claim.chainId)!);
  const fromWord = fromBase64url(from.payword)!;
  // W(to) must lead to W(from), and W(from) to the anchor: to − anchor hashes in all.
  const upper = verifyLink(
    step,
    { index: from.index, payword: fromWord },
    { index: to.index, payword: fromBase64url(to.payword)! },
    {
      n: t.n,
      maxSteps,
    },
  );
  if (!upper.ok) return upper;
  if (from.index > ctx.anchor.index) {
    const lower = verifyLink(
      step,
      ctx.anchor,
      { index: from.index, payword: fromWord },
      { n: t.n, maxSteps },
    );
    if (!lower.ok) return lower;
  } else if (!bytesEqual(fromWord, ctx.anchor.payword)) {
    return err(
      'payword_invalid',
      `claim's starting payword does not match the verified point ${ctx.anchor.index}`,
    );
  }
  const coins = to.index - from.index;
  return ok({ claim, coins, amount: BigInt(coins) * BigInt(t.coinValue) });
}
