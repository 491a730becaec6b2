/**
 * The fraud store: every SQL statement over `fraud_evidence` (claims kept as evidence: a vendor claiming
 * coins it did not hold or redeemed already, a bad payword, coins spent twice) and `charge_backs` (what
 * the owner of a chain was charged for coins it spent twice). Small functions over a Queryable: the
 * caller's transaction when it holds one. Times are Unix milliseconds as bigint, as the tables store them.
 */
import type { Queryable } from '@netpay/db';
import type { Claim } from '@netpay/protocol';

/** One claim kept as evidence, as `fraud_evidence` stores it. */
export interface EvidenceRow {
  id: string;
  chain_id: string;
  party_id: string;
  reason: string;
  claim: Claim;
  conflicts_with: string | null;
  created_at: bigint;
}

/** Keeps the claims of one party's batch as evidence, in one multi-row insert. */
export async function insertEvidence(
  q: Queryable,
  partyId: string,
  now: bigint,
  rows: readonly {
    id: string;
    chainId: string;
    reason: string;
    claim: Claim;
    conflictsWith: string | null;
  }[],
) {
  await q.query(
    `INSERT INTO fraud_evidence (id, chain_id, party_id, reason, claim, conflicts_with, created_at)
         SELECT id, chain_id, $3, reason, claim::jsonb, conflicts_with, $4
         FROM unnest($1::text[], $2::text[], $5::text[], $6::text[], $7::text[]) AS t(id, chain_id, reason, claim, conflicts_with)`,
    [
      rows.map((e) => e.id),
      rows.map((e) => e.chainId),
      partyId,
      now,
      rows.map((e) => e.reason),
      rows.map((e) => JSON.stringify(e.claim)),
      rows.map((e) => e.conflictsWith),
    ],
  );
}

/** The latest evidence, newest first. */
export async function latestEvidence(q: Queryable, limit: number): Promise<EvidenceRow[]> {
  return q.query<EvidenceRow>('SELECT * FROM fraud_evidence ORDER BY created_at DESC, id LIMIT $1', [limit]);
}

/** One charge-back: the claim that paid coins a second time, and who bore the amount (owner, broker). */
export interface ChargeBackRow {
  readonly id: string;
  readonly chainId: string;
  readonly customerId: string;
  readonly claimId: string;
  readonly coins: number;
  readonly amount: bigint;
  readonly fromCustomer: bigint;
  readonly fromBroker: bigint;
  readonly now: bigint;
}

export async function insertChargeBack(q: Queryable, c: ChargeBackRow) {
  await q.query(
    `INSERT INTO charge_backs (id, chain_id, customer_id, claim_id, coins, amount, from_customer, from_broker, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [c.id, c.chainId, c.customerId, c.claimId, c.coins, c.amount, c.fromCustomer, c.fromBroker, c.now],
  );
}

/** The coins and amount charged back on one chain so far. */
export async function chargedBackOn(q: Queryable, chainId: string) {
  const [cb] = await q.query<{ coins: bigint; amount: bigint }>(
    'SELECT COALESCE(sum(coins), 0)::int8 AS coins, COALESCE(sum(amount), 0)::int8 AS amount FROM charge_backs WHERE chain_id = $1',
    [chainId],
  );
  return cb;
}
