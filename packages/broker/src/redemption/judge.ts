/**
 * One claim of a batch judged against its chain and every range before it, the batch's own included
 * (docs/broker.md §10, steps 2–10): refused (a vendor's misbehaviour kept as evidence), replayed, or
 * verified and credited, with a double spend detected by fraud/. No I/O here: what the claims add is
 * collected in the batch that service.ts opened, and written by service.ts at the end.
 */
import {
  allocate,
  type Claim,
  currency,
  fromBase64url,
  money,
  verifyClaim,
  verifyIndex,
} from '@netpay/protocol';
import { peerOf } from '../accounts/peer.ts';
import { heldRange } from '../directory/holdings.ts';
import type { Holding, RedeemableChain } from '../directory/store.ts';
import { type ChargeBack, detectDoubleSpend, type Evidence } from '../fraud/service.ts';
import { SYSTEM_ACCOUNTS, type Transfer, vendorAccount } from '../ledger/ledger.ts';
import type { ClaimResult, RedemptionDeps } from './deps.ts';
import type { ClaimRejection } from './errors.ts';
import { anchorFor, overlapping, type RangeRow } from './ranges.ts';

/** What a batch knows while its claims are judged, and what they add (written at the end, by `record`). */
export interface Batch {
  readonly partyId: string;
  readonly now: bigint;
  readonly vendorKey: Uint8Array;
  readonly chains: ReadonlyMap<string, RedeemableChain>;
  /** Each chain's ranges; the batch's own credited ranges are appended as they are credited. */
  readonly ranges: Map<string, RangeRow[]>;
  /** The chain each of the batch's claim ids was already recorded on, if any (on any chain). */
  readonly usedOn: ReadonlyMap<string, string>;
  /** The claim ids judged so far in this batch. */
  readonly seen: Set<string>;
  readonly holdings: readonly Holding[];
  /**
   * P2P: when the caller is a peer, the public keys of the peers that own the batch's chains (their
   * claims' startIndex is checked under them instead of the directory's holdings); null otherwise.
   */
  readonly peerOwnerKeys: ReadonlyMap<string, Uint8Array> | null;
  /** The kinds of the batch's registered payees, by id. */
  readonly knownPayees: ReadonlyMap<string, string>;
  readonly credited: { row: RangeRow; claim: Claim }[];
  readonly evidence: Evidence[];
  readonly transfers: Transfer[];
  readonly chargeBacks: ChargeBack[];
}

export const rejected = (claimId: string, code: ClaimRejection, message: string): ClaimResult => ({
  claimId,
  status: 'rejected',
  code,
  message,
});

const duplicate = (claim: Claim) =>
  rejected(claim.claimId, 'duplicate_claim_id', 'this claim id was already used for another claim');

/**
 * Steps 2–7: the claim id is not used for another claim, the chain is known, the claim is not a replay,
 * it comes in time, its payees are registered and its range lies in the caller's holding. Answers the
 * claim, or gives its chain and that chain's ranges for the next steps.
 */
function admit(d: RedemptionDeps, b: Batch, claim: Claim) {
  const usedOn = b.usedOn.get(claim.claimId);
  if ((usedOn !== undefined && usedOn !== claim.chainId) || b.seen.has(claim.claimId))
    return duplicate(claim);
  b.seen.add(claim.claimId);
  const chain = b.chains.get(claim.chainId);
  if (!chain)
    return rejected(claim.claimId, 'chain_not_found', `no chain ${claim.chainId} was issued by this broker`);
  const chainRanges = b.ranges.get(claim.chainId) ?? [];
  const same = chainRanges.find((r) => r.claim_id === claim.claimId);
  if (same) return replay(b.partyId, claim, same);
  if (b.now > chain.expires_at + BigInt(d.config.redemptionGraceSeconds * 1000))
    return rejected(
      claim.claimId,
      'claim_too_late',
      'the chain expired and its redemption grace period is over',
    );
  if (claim.payees?.some((p) => !b.knownPayees.has(p.payeeId)))
    return rejected(claim.claimId, 'unknown_payee', 'every payee must be a registered vendor or peer');
  if (
    d.config.p2p.currency === 'tokens' &&
    peerOf(chain.customer_id) !== undefined &&
    claim.payees?.some((p) => b.knownPayees.get(p.payeeId) !== 'peer')
  )
    return rejected(
      claim.claimId,
      'unknown_payee',
      "a peer's chain pays tokens, never money: every payee must be a peer (docs/p2p.md §4)",
    );
  const notHeld = holdingRefusal(d, b, chain, chainRanges, claim);
  if (notHeld) {
    b.evidence.push({ chainId: claim.chainId, reason: 'not_holder', claim, conflictsWith: null });
    return rejected(claim.claimId, 'not_holder', notHeld);
  }
  return { chain, chainRanges };
}

/**
 * Step 7: why the claim's range does not lie in the caller's holding, or undefined when it does. A peer
 * claiming a chain another peer bought, with the index it started from (`startIndex`), holds it from that
 * index (docs/p2p.md §3): it accepted the chain offline, so the directory knows no holding of its.
 * Everyone else holds what the directory recorded. A peer never holds its own chain: coins it paid itself
 * would raise its supply, and so its fairness allowance (docs/p2p.md §4).
 */
function holdingRefusal(
  d: RedemptionDeps,
  b: Batch,
  chain: RedeemableChain,
  chainRanges: readonly RangeRow[],
  claim: Claim,
): string | undefined {
  const owner = peerOf(chain.customer_id);
  if (owner !== undefined && owner === b.partyId)
    return `${b.partyId} bought this chain: a peer cannot redeem its own coins to itself`;
  if (b.peerOwnerKeys && owner !== undefined && claim.startIndex)
    return startIndexRefusal(d, b, chain, chainRanges, claim, owner);
  if (heldRange(b.holdings, claim.chainId, claim.from.index, claim.to.index)) return undefined;
  return `coins (${claim.from.index}, ${claim.to.index}] were not accepted while ${b.partyId} held this chain`;
}

/**
 * A P2P holding: the startIndex must be the owner's, signed with its key, for this chain, handed to the
 * caller, and lie on the chain (checked from the highest verified point at or below it: one hash per coin,
 * the root when nothing below is redeemed); the range must start at or after it. Its end must be paid: the
 * endIndex is the owner's index (a payment's `paidIndex`) at or past `to`, handed to the caller, so a seller
 * claims only coins the owner paid it, never paywords another seller passed it (docs/p2p.md §5).
 */
function startIndexRefusal(
  d: RedemptionDeps,
  b: Batch,
  chain: RedeemableChain,
  chainRanges: readonly RangeRow[],
  claim: Claim,
  owner: string,
): string | undefined {
  const start = claim.startIndex!;
  const key = b.peerOwnerKeys?.get(owner);
  if (!key || start.vendorId !== owner)
    return `the startIndex must be signed by ${owner}, the peer that bought this chain`;
  const checked = verifyIndex(start, {
    vendorKey: key,
    chainId: claim.chainId,
    handedTo: b.partyId,
    touchstone: chain.touchstone,
    anchor: anchorFor(chain.touchstone, chainRanges, start.index),
    maxSteps: d.config.maxCoinsPerClaim,
  });
  if (!checked.ok) return `the startIndex does not hold: ${checked.error.message}`;
  if (claim.from.index < start.index)
    return `coins (${claim.from.index}, ${claim.to.index}] start before the startIndex ${start.index}`;
  return endIndexRefusal(d, b, chain, claim, owner, key);
}

/** Why the claim's endIndex does not show that the owner paid the caller up to `to`, or undefined. */
function endIndexRefusal(
  d: RedemptionDeps,
  b: Batch,
  chain: RedeemableChain,
  claim: Claim,
  owner: string,
  key: Uint8Array,
): string | undefined {
  const end = claim.endIndex;
  if (!end || end.vendorId !== owner)
    return `a peer's claim carries ${owner}'s signed index at or past its end (endIndex): the owner paid that far`;
  if (end.index < claim.to.index)
    return `coins up to ${claim.to.index} claimed, but the owner's endIndex shows payment up to ${end.index} only`;
  const checked = verifyIndex(end, {
    vendorKey: key,
    chainId: claim.chainId,
    handedTo: b.partyId,
    touchstone: chain.touchstone,
    anchor: { index: claim.to.index, payword: fromBase64url(claim.to.payword)! },
    maxSteps: d.config.maxCoinsPerClaim,
  });
  return checked.ok ? undefined : `the endIndex does not hold: ${checked.error.message}`;
}

/** Step 4: the claim id is on this chain already: the stored result if party and range match, else a duplicate. */
function replay(partyId: string, claim: Claim, same: RangeRow): ClaimResult {
  if (same.party_id !== partyId || same.from_index !== claim.from.index || same.to_index !== claim.to.index)
    return duplicate(claim);
  return {
    claimId: claim.claimId,
    status: 'credited',
    coins: same.to_index - same.from_index,
    amount: same.amount.toString(),
    fee: same.fee.toString(),
    replayed: true,
  };
}

/**
 * Steps 2–9 for one claim, against its chain and every range before it (the batch's too): refused (and
 * perhaps kept as evidence), replayed, or verified and credited (step 10).
 */
export function judge(d: RedemptionDeps, b: Batch, claim: Claim): ClaimResult {
  const admitted = admit(d, b, claim);
  if ('status' in admitted) return admitted;
  const { chain, chainRanges } = admitted;
  const overlaps = overlapping(chainRanges, claim.from.index, claim.to.index);
  const own = overlaps.find((r) => r.party_id === b.partyId);
  if (own) {
    // The same vendor claiming coins twice is the vendor's fault, never the customer's.
    b.evidence.push({
      chainId: claim.chainId,
      reason: 'overlapping_claim',
      claim,
      conflictsWith: own.claim_id,
    });
    return rejected(
      claim.claimId,
      'overlapping_claim',
      `coins (${own.from_index}, ${own.to_index}] of this chain were already redeemed by ${b.partyId}`,
    );
  }
  const verified = verifyClaim(claim, {
    touchstone: chain.touchstone,
    vendorKey: b.vendorKey,
    anchor: anchorFor(chain.touchstone, chainRanges, claim.from.index),
    maxSteps: d.config.maxCoinsPerClaim,
  });
  if (!verified.ok) {
    if (verified.error.code === 'payword_invalid')
      b.evidence.push({ chainId: claim.chainId, reason: 'payword_invalid', claim, conflictsWith: null });
    return rejected(claim.claimId, verified.error.code, verified.error.message);
  }
  // Coins of this claim already credited to another vendor or refunded: the owner spent them twice (both
  // holders accepted them under their leases, which only the owner's paywords allow). Both are paid; the
  // owner is charged back for the second payment, and the claims are kept as evidence.
  const doubleSpend = detectDoubleSpend(chain, claim, overlaps);
  if (doubleSpend) {
    b.evidence.push(doubleSpend.evidence);
    b.chargeBacks.push(doubleSpend.chargeBack);
  }
  return credit(d, b, chainRanges, claim, verified.value);
}

/** Step 10: credits a verified claim, and adds its range to the chain's for the claims after it. */
function credit(
  d: RedemptionDeps,
  b: Batch,
  chainRanges: RangeRow[],
  claim: Claim,
  verified: { amount: bigint; coins: number },
): ClaimResult {
  const { amount } = verified;
  const { fee, transfers } = creditTransfers(d, b.partyId, claim, amount);
  b.transfers.push(...transfers);
  const row: RangeRow = {
    claim_id: claim.claimId,
    chain_id: claim.chainId,
    party_id: b.partyId,
    kind: 'redemption',
    from_index: claim.from.index,
    to_index: claim.to.index,
    to_payword: claim.to.payword,
    amount,
    fee,
  };
  chainRanges.push(row);
  b.ranges.set(claim.chainId, chainRanges);
  b.credited.push({ row, claim });
  return {
    claimId: claim.claimId,
    status: 'credited',
    coins: verified.coins,
    amount: amount.toString(),
    fee: fee.toString(),
  };
}

/** The transfers that pay a claim worth `amount`: the broker's fee, and the rest split among the payees. */
function creditTransfers(d: RedemptionDeps, partyId: string, claim: Claim, amount: bigint) {
  // Rounded up, so splitting a range into many small claims never lowers the fee.
  const fee = (amount * BigInt(d.config.feeBasisPoints) + 9_999n) / 10_000n;
  const cur = currency(d.config.currency.code, d.config.currency.exponent);
  const payees = claim.payees ?? [{ payeeId: partyId, share: 10_000 }];
  const shares = allocate(
    money(amount - fee, cur),
    payees.map((p) => BigInt(p.share)),
  );
  const transfers: Transfer[] = [];
  payees.forEach((p, k) => {
    const part = shares[k]!.minor;
    if (part > 0n) {
      transfers.push({
        id: `redeem:${claim.claimId}:${p.payeeId}`,
        debit: SYSTEM_ACCOUNTS.coins,
        credit: vendorAccount(p.payeeId),
        amount: part,
        kind: 'redemption',
        ref: claim.chainId,
      });
    }
  });
  if (fee > 0n) {
    transfers.push({
      id: `redeem:${claim.claimId}:fee`,
      debit: SYSTEM_ACCOUNTS.coins,
      credit: SYSTEM_ACCOUNTS.fees,
      amount: fee,
      kind: 'redemption_fee',
      ref: claim.chainId,
    });
  }
  return { fee, transfers };
}
