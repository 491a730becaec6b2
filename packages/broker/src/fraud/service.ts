/**
 * Fraud (docs/protocol.md §8.5, I2 and I4): what the broker keeps when a claim looks wrong, and what it
 * does when an owner spent coins twice. A chain's owner can pay the same coins to two holders (each
 * accepted them under its lease, which only the owner's paywords allow): both vendors are paid, and the
 * owner is charged back for the second payment. Claims that are refused for a vendor's misbehaviour (not
 * holding the chain, claiming its own coins twice, a bad payword) are kept as evidence too; an honest
 * customer is never charged for those.
 *
 * Plain functions over FraudDeps; createFraudService binds them. Their SQL is in store.ts. Fraud refuses
 * nothing itself (redemption does), so it has no error codes of its own.
 */
import type { Db, Queryable } from '@netpay/db';
import type { Claim } from '@netpay/protocol';
import { peerOf } from '../accounts/peer.ts';
import { type BrokerContext, newId } from '../context.ts';
import type { RedeemableChain } from '../directory/store.ts';
import {
  customerAccount,
  type Ledger,
  SYSTEM_ACCOUNTS,
  type Transfer,
  vendorAccount,
} from '../ledger/ledger.ts';
import { coveredCoins } from '../redemption/ranges.ts';
import { chargedBackOn, insertChargeBack, insertEvidence, latestEvidence } from './store.ts';

/** What fraud runs on. */
export interface FraudDeps {
  readonly db: Db;
  readonly random: BrokerContext['random'];
  readonly ledger: Pick<Ledger, 'balance'>;
}

/** Why a claim was kept as evidence. */
export type EvidenceReason = 'not_holder' | 'overlapping_claim' | 'payword_invalid' | 'double_spend';

/** A claim kept as evidence, and the claim it conflicts with (if any). */
export interface Evidence {
  readonly chainId: string;
  readonly reason: EvidenceReason;
  readonly claim: Claim;
  readonly conflictsWith: string | null;
}

/** Coins of a chain paid a second time by one claim, to be charged back to the chain's owner. */
export interface ChargeBack {
  readonly chain: Pick<RedeemableChain, 'chain_id' | 'customer_id' | 'coin_value'>;
  readonly claimId: string;
  readonly coins: number;
  readonly amount: bigint;
}

/**
 * Coins of this claim already credited to another vendor or refunded (`others`: the ranges of other
 * parties that overlap it): the owner spent them twice. The claim is still paid; this is its evidence
 * and its charge-back. Undefined when no coin of the claim was paid before.
 */
export function detectDoubleSpend(
  chain: ChargeBack['chain'],
  claim: Claim,
  others: readonly { claim_id: string; from_index: number; to_index: number }[],
): { evidence: Evidence; chargeBack: ChargeBack } | undefined {
  const doubled = coveredCoins(others, claim.from.index, claim.to.index);
  if (doubled <= 0) return undefined;
  return {
    evidence: { chainId: claim.chainId, reason: 'double_spend', claim, conflictsWith: others[0]!.claim_id },
    chargeBack: { chain, claimId: claim.claimId, coins: doubled, amount: BigInt(doubled) * chain.coin_value },
  };
}

/**
 * The charge-back transfers for coins credited twice: from the owner's balance as far as it goes, then, for
 * a peer, from its earnings (what other peers paid it), the shortfall from the broker's fraud (loss)
 * account; all into the coins account that pays the vendor. Each is recorded with the claim that caused
 * it. The caller posts the transfers in the same transaction.
 */
export async function chargeBack(
  d: FraudDeps,
  tx: Queryable,
  items: readonly ChargeBack[],
  now: bigint,
): Promise<Transfer[]> {
  const out: Transfer[] = [];
  const left = new Map<string, bigint>();
  /** Up to `want` from `account`, as far as its balance (less what this batch took already) goes. */
  const take = async (account: string, want: bigint) => {
    const balance = left.get(account) ?? (await d.ledger.balance(tx, account));
    const got = balance < want ? balance : want; // bigint: no Math.min
    left.set(account, balance - got);
    return got;
  };
  for (const c of items) {
    const id = newId(d, 'chargeback');
    const peer = peerOf(c.chain.customer_id);
    const sources = [customerAccount(c.chain.customer_id), ...(peer ? [vendorAccount(peer)] : [])];
    let fromCustomer = 0n;
    for (const [k, account] of sources.entries()) {
      const got = await take(account, c.amount - fromCustomer);
      fromCustomer += got;
      if (got > 0n)
        out.push({
          id: `${id}:${k === 0 ? 'customer' : 'earnings'}`,
          debit: account,
          credit: SYSTEM_ACCOUNTS.coins,
          amount: got,
          kind: 'charge_back',
          ref: c.chain.chain_id,
        });
    }
    const fromBroker = c.amount - fromCustomer;
    if (fromBroker > 0n)
      out.push({
        id: `${id}:loss`,
        debit: SYSTEM_ACCOUNTS.fraud,
        credit: SYSTEM_ACCOUNTS.coins,
        amount: fromBroker,
        kind: 'charge_back_loss',
        ref: c.chain.chain_id,
      });
    await insertChargeBack(tx, {
      id,
      chainId: c.chain.chain_id,
      customerId: c.chain.customer_id,
      claimId: c.claimId,
      coins: c.coins,
      amount: c.amount,
      fromCustomer,
      fromBroker,
      now,
    });
  }
  return out;
}

/** Keeps one party's claims as evidence, each under a new id. */
export async function recordEvidence(
  d: FraudDeps,
  tx: Queryable,
  partyId: string,
  evidence: readonly Evidence[],
  now: bigint,
) {
  const rows = evidence.map((e) => ({ id: newId(d, 'ev'), ...e }));
  await insertEvidence(tx, partyId, now, rows);
}

/** The latest evidence, newest first, for the operator. */
export async function evidence(d: FraudDeps, limit = 100) {
  const rows = await latestEvidence(d.db, limit);
  return rows.map((r) => ({
    id: r.id,
    chainId: r.chain_id,
    partyId: r.party_id,
    reason: r.reason,
    conflictsWith: r.conflicts_with,
    claim: r.claim,
    createdAt: new Date(Number(r.created_at)).toISOString(),
  }));
}

/** What one chain's owner was charged back so far: coins and amount (minor units). */
export async function chargedBack(d: FraudDeps, chainId: string) {
  const cb = await chargedBackOn(d.db, chainId);
  return { coins: Number(cb?.coins ?? 0n), amount: cb?.amount ?? 0n };
}

/** Fraud as one object (what redemption and the operator's routes call): the functions above, bound to `d`. */
export function createFraudService(d: FraudDeps) {
  return {
    chargeBack: (tx: Queryable, items: readonly ChargeBack[], now: bigint) => chargeBack(d, tx, items, now),
    recordEvidence: (tx: Queryable, partyId: string, e: readonly Evidence[], now: bigint) =>
      recordEvidence(d, tx, partyId, e, now),
    evidence: (limit?: number) => evidence(d, limit),
    chargedBack: (chainId: string) => chargedBack(d, chainId),
  };
}

export type FraudService = ReturnType<typeof createFraudService>;
