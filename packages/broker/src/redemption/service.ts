/**
 * Redemption (DESIGN.md §3, docs/broker.md §10): vendors claim ranges (i, j] per chain. Each is verified
 * incrementally from the highest point of the chain already verified at or below i (one hash per coin,
 * never from the root again), refused if it overlaps a range the same vendor already redeemed (kept as
 * evidence), and credited at once minus the broker fee, split among the payees' shares. Coins already
 * paid to another vendor or refunded are paid again and charged back to the owner who spent them twice
 * (fraud/). A batch of claims is one transaction with multi-row writes.
 *
 * A batch goes: decode the claims, lock their chains and read what is known of them, judge each claim
 * against its chain and the claims before it, credit it, and record it all. Plain functions over
 * RedemptionDeps; createRedemptionService binds them. Their SQL is in store.ts.
 */
import type { Queryable } from '@netpay/db';
import { type Claim, decodeMessage } from '@netpay/protocol';
import { peerOf } from '../accounts/peer.ts';
import type { BrokerContext } from '../context.ts';
import { holdingsOf, lockChainsToRedeem, type RedeemableChain } from '../directory/store.ts';
import type { ClaimResult, RedemptionDeps } from './deps.ts';
import { type Batch, judge, rejected } from './judge.ts';
import type { RangeRow } from './ranges.ts';
import { chainAccount, statement } from './statement.ts';
import { insertRedemptions, rangesOf } from './store.ts';

export type { ClaimResult, RedemptionDeps } from './deps.ts';
/** The gate's invariant checks import it from here. */
export { coveredCoins } from './ranges.ts';

/** Most claims one redemption request may carry. */
export const MAX_CLAIMS_PER_REQUEST = 200;

/** A claim that decoded and is the caller's, with its place in the request. */
interface Decoded {
  readonly i: number;
  readonly claim: Claim;
}

/**
 * Redeems a batch of claims in the caller's transaction: one result per input, in request order.
 * §10's steps: decode (1), then per claim in chain and index order: judge (2–9), credit (10); then record.
 */
export async function redeem(
  d: RedemptionDeps,
  tx: Queryable,
  partyId: string,
  inputs: readonly unknown[],
): Promise<ClaimResult[]> {
  const results: ClaimResult[] = new Array(inputs.length);
  const claims = decodeClaims(partyId, inputs, results);
  if (claims.length === 0) return results;
  const b = await openBatch(d, tx, partyId, claims);
  for (const { i, claim } of inChainOrder(claims)) results[i] = judge(d, b, claim);
  await record(d, tx, b);
  return results;
}

/** Step 1: each input must decode and be the caller's claim; the others are answered at once. */
function decodeClaims(partyId: string, inputs: readonly unknown[], results: ClaimResult[]): Decoded[] {
  const claims: Decoded[] = [];
  inputs.forEach((input, i) => {
    const decoded = decodeMessage('claim', input);
    if (!decoded.ok) {
      const claimId = (input as { claimId?: unknown })?.claimId;
      results[i] = rejected(typeof claimId === 'string' ? claimId : '', 'malformed', decoded.error.message);
    } else if (decoded.value.vendorId !== partyId) {
      results[i] = rejected(decoded.value.claimId, 'wrong_vendor', `claim is for ${decoded.value.vendorId}`);
    } else {
      claims.push({ i, claim: decoded.value });
    }
  });
  return claims;
}

/** Claims by chain, then by where they start: a batch may hold consecutive ranges of one chain. */
function inChainOrder(claims: readonly Decoded[]): Decoded[] {
  return [...claims].sort((a, b) =>
    a.claim.chainId < b.claim.chainId
      ? -1
      : a.claim.chainId > b.claim.chainId
        ? 1
        : a.claim.from.index - b.claim.from.index,
  );
}

/** Locks the batch's chains (in chain id order) and reads what its claims are judged against. */
async function openBatch(d: RedemptionDeps, tx: Queryable, partyId: string, claims: readonly Decoded[]) {
  const vendorKey = (await d.parties.publicKey(partyId, tx))!;
  const chainIds = [...new Set(claims.map((c) => c.claim.chainId))].sort();
  const chains = new Map((await lockChainsToRedeem(tx, chainIds)).map((c) => [c.chain_id, c]));
  const read = await rangesOf(
    tx,
    chainIds,
    claims.map((c) => c.claim.claimId),
  );
  const holdings = await holdingsOf(tx, chainIds, partyId);
  const peerOwnerKeys =
    (await d.parties.kindOf(partyId, tx)) === 'peer' ? await ownerKeys(d, tx, chains.values()) : null;
  const knownPayees = await registeredPayees(d, tx, claims);
  const batch: Batch = {
    ...byChain(read, chainIds),
    partyId,
    now: BigInt(d.clock()),
    vendorKey,
    chains,
    seen: new Set(),
    holdings,
    peerOwnerKeys,
    knownPayees,
    credited: [],
    evidence: [],
    transfers: [],
    chargeBacks: [],
  };
  return batch;
}

/** The ranges read, by chain (the batch's chains only), and the chain each claim id was used on. */
function byChain(rows: readonly RangeRow[], chainIds: readonly string[]) {
  const ranges = new Map<string, RangeRow[]>();
  const usedOn = new Map<string, string>();
  const wanted = new Set(chainIds);
  for (const r of rows) {
    usedOn.set(r.claim_id, r.chain_id);
    if (!wanted.has(r.chain_id)) continue;
    const list = ranges.get(r.chain_id);
    if (list) list.push(r);
    else ranges.set(r.chain_id, [r]);
  }
  return { ranges, usedOn };
}

/** The public keys of the peers that bought `chains` (those of them a peer bought), by peer id. */
async function ownerKeys(d: RedemptionDeps, tx: Queryable, chains: Iterable<RedeemableChain>) {
  const keys = new Map<string, Uint8Array>();
  for (const c of chains) {
    const owner = peerOf(c.customer_id);
    if (owner === undefined || keys.has(owner)) continue;
    const key = await d.parties.publicKey(owner, tx);
    if (key) keys.set(owner, key);
  }
  return keys;
}

/** Those of the claims' payees that are registered parties. */
async function registeredPayees(d: RedemptionDeps, tx: Queryable, claims: readonly Decoded[]) {
  const ids = [...new Set(claims.flatMap((c) => (c.claim.payees ?? []).map((p) => p.payeeId)))];
  if (ids.length === 0) return new Map<string, string>();
  return d.parties.kinds(ids, tx);
}

/**
 * Writes what the batch decided: the credited ranges; the charge-backs, posted with the credits in one
 * posting (the coins account pays a doubled coin twice and is refilled by its charge-back); the evidence.
 */
async function record(d: RedemptionDeps, tx: Queryable, b: Batch) {
  if (b.credited.length > 0) {
    await insertRedemptions(tx, b.credited, b.now);
    // A peer that spent coins twice is frozen: it buys no more, and other peers refuse it (docs/p2p.md §5).
    // Its row is locked before the ledger's accounts, in the order its purchases lock them (p2p/).
    const spenders = b.chargeBacks.flatMap((c) => peerOf(c.chain.customer_id) ?? []);
    if (spenders.length > 0) await d.parties.freeze(tx, spenders);
    await d.ledger.post(tx, [...(await d.fraud.chargeBack(tx, b.chargeBacks, b.now)), ...b.transfers]);
  }
  if (b.evidence.length > 0) await d.fraud.recordEvidence(tx, b.partyId, b.evidence, b.now);
}

/** Redemption as one object (what the routes and tests call): the functions above, bound to its deps. */
export function createRedemptionService(
  ctx: BrokerContext,
  deps: { parties: RedemptionDeps['parties']; fraud: RedemptionDeps['fraud'] },
) {
  const d: RedemptionDeps = { db: ctx.db, clock: ctx.clock, config: ctx.config, ledger: ctx.ledger, ...deps };
  return {
    redeem: (tx: Queryable, partyId: string, inputs: readonly unknown[]) => redeem(d, tx, partyId, inputs),
    statement: (partyId: string) => statement(d, partyId),
    chainAccount: (chainId: string) => chainAccount(d, chainId),
  };
}

export type RedemptionService = ReturnType<typeof createRedemptionService>;
