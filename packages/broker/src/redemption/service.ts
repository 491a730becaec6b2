import type { Queryable } from '@netpay/db';
import {
  allocate,
  type ChainPoint,
  type Claim,
  currency,
  decodeMessage,
  fromBase64url,
  money,
  verifyClaim,
} from '@netpay/protocol';
import { type BrokerContext, newId } from '../context.ts';
import { heldRange } from '../directory/holdings.ts';
import { chainSize, holdingsOf, lockChainsToRedeem, type RedeemableChain } from '../directory/store.ts';
import type { Transfer } from '../ledger/ledger.ts';
import { customerAccount, SYSTEM_ACCOUNTS, vendorAccount } from '../ledger/ledger.ts';
import type { PartyService } from '../parties/service.ts';

export type ClaimResult =
  | { claimId: string; status: 'credited'; coins: number; amount: string; fee: string; replayed?: boolean }
  | { claimId: string; status: 'rejected'; code: string; message: string };

interface RangeRow {
  claim_id: string;
  chain_id: string;
  party_id: string;
  kind: 'redemption' | 'refund';
  from_index: number;
  to_index: number;
  to_payword: string | null;
  amount: bigint;
  fee: bigint;
}

/** How many coins of (from, to] the ranges cover (their union, so coins covered twice count once). */
export function coveredCoins(
  ranges: readonly { from_index: number; to_index: number }[],
  from: number,
  to: number,
): number {
  const spans = ranges
    .map((r) => [Math.max(r.from_index, from), Math.min(r.to_index, to)] as const)
    .filter(([a, b]) => a < b)
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let reach = from;
  for (const [a, b] of spans) {
    if (b <= reach) continue;
    covered += b - Math.max(a, reach);
    reach = b;
  }
  return covered;
}

/** Most claims one redemption request may carry. */
export const MAX_CLAIMS_PER_REQUEST = 200;

/**
 * Redemption (DESIGN.md §3): vendors claim ranges (i, j] per chain. Each is verified incrementally from
 * the highest point of the chain already verified at or below i (one hash per coin, never from the root
 * again), refused if it overlaps any range already redeemed or refunded (both claims kept as evidence),
 * and credited at once minus the broker fee, split among the payees' shares. A batch of claims is one
 * transaction with multi-row writes.
 */
export function createRedemptionService(ctx: BrokerContext, parties: PartyService) {
  const { db, config, ledger } = ctx;

  async function redeem(tx: Queryable, partyId: string, inputs: readonly unknown[]): Promise<ClaimResult[]> {
    const results: ClaimResult[] = new Array(inputs.length);
    const claims: { i: number; claim: Claim }[] = [];
    inputs.forEach((input, i) => {
      const decoded = decodeMessage('claim', input);
      const claimId = (input as { claimId?: unknown })?.claimId;
      if (!decoded.ok) {
        results[i] = {
          claimId: typeof claimId === 'string' ? claimId : '',
          status: 'rejected',
          code: 'malformed',
          message: decoded.error.message,
        };
      } else if (decoded.value.vendorId !== partyId) {
        results[i] = {
          claimId: decoded.value.claimId,
          status: 'rejected',
          code: 'wrong_vendor',
          message: `claim is for ${decoded.value.vendorId}`,
        };
      } else {
        claims.push({ i, claim: decoded.value });
      }
    });
    if (claims.length === 0) return results;
    const vendorKey = (await parties.publicKey(partyId, tx))!;
    const chainIds = [...new Set(claims.map((c) => c.claim.chainId))].sort();
    const chainRows = await lockChainsToRedeem(tx, chainIds);
    const chains = new Map(chainRows.map((c) => [c.chain_id, c]));
    // One read gives every range of these chains and any earlier use of these claim ids on other chains.
    const claimIds = claims.map((c) => c.claim.claimId);
    const ranges = new Map<string, RangeRow[]>();
    const claimChain = new Map<string, string>();
    const wanted = new Set(chainIds);
    for (const r of await tx.query<RangeRow>(
      `SELECT claim_id, chain_id, party_id, kind, from_index, to_index, to_payword, amount, fee
       FROM redemptions WHERE chain_id = ANY($1::text[]) OR claim_id = ANY($2::text[])`,
      [chainIds, claimIds],
    )) {
      claimChain.set(r.claim_id, r.chain_id);
      if (!wanted.has(r.chain_id)) continue;
      const list = ranges.get(r.chain_id);
      if (list) list.push(r);
      else ranges.set(r.chain_id, [r]);
    }
    const holdings = await holdingsOf(tx, chainIds, partyId);
    const seenInBatch = new Set<string>();
    const payeeIds = [...new Set(claims.flatMap((c) => (c.claim.payees ?? []).map((p) => p.payeeId)))];
    const knownPayees = new Set(
      payeeIds.length === 0
        ? []
        : (
            await tx.query<{ id: string }>('SELECT id FROM parties WHERE id = ANY($1::text[])', [payeeIds])
          ).map((r) => r.id),
    );
    const now = BigInt(ctx.clock());
    const graceMs = BigInt(config.redemptionGraceSeconds * 1000);
    const cur = currency(config.currency.code, config.currency.exponent);
    const newRanges: RangeRow[] = [];
    const claimJson = new Map<string, Claim>();
    const evidence: { chainId: string; reason: string; claim: Claim; conflictsWith: string | null }[] = [];
    const transfers: Transfer[] = [];
    const chargeBacks: { chain: RedeemableChain; claimId: string; coins: number; amount: bigint }[] = [];

    claims.sort((a, b) =>
      a.claim.chainId < b.claim.chainId
        ? -1
        : a.claim.chainId > b.claim.chainId
          ? 1
          : a.claim.from.index - b.claim.from.index,
    );
    for (const { i, claim } of claims) {
      const reject = (code: string, message: string) => {
        results[i] = { claimId: claim.claimId, status: 'rejected', code, message };
      };
      const usedOn = claimChain.get(claim.claimId);
      if ((usedOn !== undefined && usedOn !== claim.chainId) || seenInBatch.has(claim.claimId)) {
        reject('duplicate_claim_id', 'this claim id was already used for another claim');
        continue;
      }
      seenInBatch.add(claim.claimId);
      const chain = chains.get(claim.chainId);
      if (!chain) {
        reject('chain_not_found', `no chain ${claim.chainId} was issued by this broker`);
        continue;
      }
      const chainRanges = ranges.get(claim.chainId) ?? [];
      const same = chainRanges.find((r) => r.claim_id === claim.claimId);
      if (same) {
        if (
          same.party_id === partyId &&
          same.from_index === claim.from.index &&
          same.to_index === claim.to.index
        ) {
          results[i] = {
            claimId: claim.claimId,
            status: 'credited',
            coins: same.to_index - same.from_index,
            amount: same.amount.toString(),
            fee: same.fee.toString(),
            replayed: true,
          };
        } else {
          reject('duplicate_claim_id', 'this claim id was already used for another claim');
        }
        continue;
      }
      if (now > chain.expires_at + graceMs) {
        reject('claim_too_late', 'the chain expired and its redemption grace period is over');
        continue;
      }
      if (claim.payees?.some((p) => !knownPayees.has(p.payeeId))) {
        reject('unknown_payee', 'every payee must be a registered vendor or peer');
        continue;
      }
      if (!heldRange(holdings, claim.chainId, claim.from.index, claim.to.index)) {
        evidence.push({ chainId: claim.chainId, reason: 'not_holder', claim, conflictsWith: null });
        reject(
          'not_holder',
          `coins (${claim.from.index}, ${claim.to.index}] were not accepted while ${partyId} held this chain`,
        );
        continue;
      }
      const overlapping = chainRanges.filter(
        (r) => r.from_index < claim.to.index && r.to_index > claim.from.index,
      );
      const own = overlapping.find((r) => r.party_id === partyId);
      if (own) {
        // The same vendor claiming coins twice is the vendor's fault, never the customer's.
        evidence.push({
          chainId: claim.chainId,
          reason: 'overlapping_claim',
          claim,
          conflictsWith: own.claim_id,
        });
        reject(
          'overlapping_claim',
          `coins (${own.from_index}, ${own.to_index}] of this chain were already redeemed by ${partyId}`,
        );
        continue;
      }
      let anchor: ChainPoint = { index: 0, payword: fromBase64url(chain.touchstone.root)! };
      for (const r of chainRanges) {
        if (
          r.kind === 'redemption' &&
          r.to_payword &&
          r.to_index <= claim.from.index &&
          r.to_index > anchor.index
        ) {
          anchor = { index: r.to_index, payword: fromBase64url(r.to_payword)! };
        }
      }
      const verified = verifyClaim(claim, {
        touchstone: chain.touchstone,
        vendorKey,
        anchor,
        maxSteps: config.maxCoinsPerClaim,
      });
      if (!verified.ok) {
        if (verified.error.code === 'payword_invalid') {
          evidence.push({ chainId: claim.chainId, reason: 'payword_invalid', claim, conflictsWith: null });
        }
        reject(verified.error.code, verified.error.message);
        continue;
      }
      // Coins of this claim already credited to another vendor or refunded: the owner spent them twice
      // (both holders accepted them under their leases, which only the owner's paywords allow). Both are
      // paid; the owner is charged back for the second payment, and the claims are kept as evidence.
      const doubled = coveredCoins(overlapping, claim.from.index, claim.to.index);
      if (doubled > 0) {
        evidence.push({
          chainId: claim.chainId,
          reason: 'double_spend',
          claim,
          conflictsWith: overlapping[0]!.claim_id,
        });
        chargeBacks.push({
          chain,
          claimId: claim.claimId,
          coins: doubled,
          amount: BigInt(doubled) * chain.coin_value,
        });
      }
      const amount = verified.value.amount;
      // Rounded up, so splitting a range into many small claims never lowers the fee.
      const fee = (amount * BigInt(config.feeBasisPoints) + 9_999n) / 10_000n;
      const net = amount - fee;
      const payees = claim.payees ?? [{ payeeId: partyId, share: 10_000 }];
      const shares = allocate(
        money(net, cur),
        payees.map((p) => BigInt(p.share)),
      );
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
      const row: RangeRow = {
        claim_id: claim.claimId,
        chain_id: claim.chainId,
        party_id: partyId,
        kind: 'redemption',
        from_index: claim.from.index,
        to_index: claim.to.index,
        to_payword: claim.to.payword,
        amount,
        fee,
      };
      chainRanges.push(row);
      ranges.set(claim.chainId, chainRanges);
      newRanges.push(row);
      claimJson.set(claim.claimId, claim);
      results[i] = {
        claimId: claim.claimId,
        status: 'credited',
        coins: verified.value.coins,
        amount: amount.toString(),
        fee: fee.toString(),
      };
    }

    if (newRanges.length > 0) {
      await tx.query(
        `INSERT INTO redemptions (claim_id, chain_id, party_id, kind, from_index, to_index, to_payword, amount, fee, claim, created_at)
         SELECT claim_id, chain_id, party_id, 'redemption', from_index, to_index, to_payword, amount, fee, claim::jsonb, $9
         FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::int4[], $6::text[], $7::int8[], $8::int8[], $10::text[])
           AS t(claim_id, chain_id, party_id, from_index, to_index, to_payword, amount, fee, claim)`,
        [
          newRanges.map((r) => r.claim_id),
          newRanges.map((r) => r.chain_id),
          newRanges.map((r) => r.party_id),
          newRanges.map((r) => r.from_index),
          newRanges.map((r) => r.to_index),
          newRanges.map((r) => r.to_payword),
          newRanges.map((r) => r.amount.toString()),
          newRanges.map((r) => r.fee.toString()),
          now,
          newRanges.map((r) => JSON.stringify(claimJson.get(r.claim_id))),
        ],
      );
      await ledger.post(tx, [...(await chargeBack(tx, chargeBacks, now)), ...transfers]);
    }
    if (evidence.length > 0) {
      await tx.query(
        `INSERT INTO fraud_evidence (id, chain_id, party_id, reason, claim, conflicts_with, created_at)
         SELECT id, chain_id, $3, reason, claim::jsonb, conflicts_with, $4
         FROM unnest($1::text[], $2::text[], $5::text[], $6::text[], $7::text[]) AS t(id, chain_id, reason, claim, conflicts_with)`,
        [
          evidence.map(() => newId(ctx, 'ev')),
          evidence.map((e) => e.chainId),
          partyId,
          now,
          evidence.map((e) => e.reason),
          evidence.map((e) => JSON.stringify(e.claim)),
          evidence.map((e) => e.conflictsWith),
        ],
      );
    }
    return results;
  }

  /**
   * The charge-back transfers for coins credited twice: from the owner's balance as far as it goes, the
   * shortfall from the broker's fraud (loss) account, both into the coins account that pays the vendor.
   * Each is recorded with the claim that caused it.
   */
  async function chargeBack(
    tx: Queryable,
    items: readonly { chain: RedeemableChain; claimId: string; coins: number; amount: bigint }[],
    now: bigint,
  ): Promise<Transfer[]> {
    const out: Transfer[] = [];
    const left = new Map<string, bigint>();
    for (const c of items) {
      const account = customerAccount(c.chain.customer_id);
      const balance = left.get(account) ?? (await ledger.balance(tx, account));
      let fromCustomer = c.amount;
      if (balance < fromCustomer) fromCustomer = balance; // bigint: no Math.min
      const fromBroker = c.amount - fromCustomer;
      left.set(account, balance - fromCustomer);
      const id = newId(ctx, 'chargeback');
      if (fromCustomer > 0n)
        out.push({
          id: `${id}:customer`,
          debit: account,
          credit: SYSTEM_ACCOUNTS.coins,
          amount: fromCustomer,
          kind: 'charge_back',
          ref: c.chain.chain_id,
        });
      if (fromBroker > 0n)
        out.push({
          id: `${id}:loss`,
          debit: SYSTEM_ACCOUNTS.fraud,
          credit: SYSTEM_ACCOUNTS.coins,
          amount: fromBroker,
          kind: 'charge_back_loss',
          ref: c.chain.chain_id,
        });
      await tx.query(
        `INSERT INTO charge_backs (id, chain_id, customer_id, claim_id, coins, amount, from_customer, from_broker, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          id,
          c.chain.chain_id,
          c.chain.customer_id,
          c.claimId,
          c.coins,
          c.amount,
          fromCustomer,
          fromBroker,
          now,
        ],
      );
    }
    return out;
  }

  async function statement(partyId: string) {
    const party = await parties.get(partyId);
    const [totals] = await db.query<{ claims: bigint; coins: bigint; amount: bigint; fees: bigint }>(
      `SELECT count(*)::int8 AS claims, COALESCE(sum(to_index - from_index), 0)::int8 AS coins,
              COALESCE(sum(amount), 0)::int8 AS amount, COALESCE(sum(fee), 0)::int8 AS fees
       FROM redemptions WHERE party_id = $1 AND kind = 'redemption'`,
      [partyId],
    );
    const payouts = await db.query<{
      id: string;
      amount: bigint;
      status: string;
      created_at: bigint;
      completed_at: bigint | null;
    }>(
      'SELECT id, amount, status, created_at, completed_at FROM payouts WHERE party_id = $1 ORDER BY created_at',
      [partyId],
    );
    return {
      partyId,
      balance: party.balance,
      redeemed: {
        claims: Number(totals?.claims ?? 0n),
        coins: Number(totals?.coins ?? 0n),
        amount: (totals?.amount ?? 0n).toString(),
        fees: (totals?.fees ?? 0n).toString(),
      },
      payouts: payouts.map((p) => ({
        id: p.id,
        amount: p.amount.toString(),
        status: p.status,
        createdAt: new Date(Number(p.created_at)).toISOString(),
        completedAt: p.completed_at === null ? null : new Date(Number(p.completed_at)).toISOString(),
      })),
    };
  }

  /**
   * One chain's money (docs/protocol.md §8.9, I2 and I3), in minor units: bought = n × coinValue; credited
   * (redeemed, gross) and refunded; charged back; unspent (coins neither credited nor refunded); and the
   * coins paid out more than once. `balanced`: bought + chargedBack = credited + refunded + unspent, and
   * every coin paid twice was charged back.
   */
  async function chainAccount(chainId: string) {
    const c = await chainSize(db, chainId);
    if (!c) return undefined;
    const ranges = await db.query<{ kind: string; from_index: number; to_index: number; amount: bigint }>(
      'SELECT kind, from_index, to_index, amount FROM redemptions WHERE chain_id = $1',
      [chainId],
    );
    const [cb] = await db.query<{ coins: bigint; amount: bigint }>(
      'SELECT COALESCE(sum(coins), 0)::int8 AS coins, COALESCE(sum(amount), 0)::int8 AS amount FROM charge_backs WHERE chain_id = $1',
      [chainId],
    );
    const sum = (kind: string) => ranges.filter((r) => r.kind === kind).reduce((a, r) => a + r.amount, 0n);
    const distinct = coveredCoins(ranges, 0, c.n);
    const doubledCoins = ranges.reduce((a, r) => a + (r.to_index - r.from_index), 0) - distinct;
    const bought = BigInt(c.n) * c.coin_value;
    const credited = sum('redemption');
    const refunded = sum('refund');
    const chargedBack = cb?.amount ?? 0n;
    const unspent = BigInt(c.n - distinct) * c.coin_value;
    return {
      chainId,
      status: c.status,
      bought: bought.toString(),
      credited: credited.toString(),
      refunded: refunded.toString(),
      chargedBack: chargedBack.toString(),
      unspent: unspent.toString(),
      doubledCoins,
      chargedBackCoins: Number(cb?.coins ?? 0n),
      balanced:
        bought + chargedBack === credited + refunded + unspent && doubledCoins === Number(cb?.coins ?? 0n),
    };
  }

  async function evidence(limit = 100) {
    const rows = await db.query<{
      id: string;
      chain_id: string;
      party_id: string;
      reason: string;
      claim: Claim;
      conflicts_with: string | null;
      created_at: bigint;
    }>('SELECT * FROM fraud_evidence ORDER BY created_at DESC, id LIMIT $1', [limit]);
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

  return { redeem, statement, evidence, chainAccount };
}

export type RedemptionService = ReturnType<typeof createRedemptionService>;
