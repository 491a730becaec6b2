/**
 * One round of advances (at most one per chain) written as one SQL statement: the compare-and-set that
 * accepts the coins, the chain's latest receipt, the revenue per minute and the multi-party payments.
 */
import type { Queryable } from '@netpay/db';
import { type IndexMessage, toBase64url } from '@netpay/protocol';

export interface Advance {
  readonly chainId: string;
  /** The accepted index this advance was verified against (compare-and-set). */
  readonly fromIndex: number;
  readonly toIndex: number;
  /** Payword at fromIndex (where this payment's coins start). */
  readonly fromPayword: Uint8Array;
  readonly payword: Uint8Array;
  /** Payees' shares as canonical JSON when the price names payees; otherwise the coins are the vendor's. */
  readonly payees?: string;
  readonly receipt: unknown;
  /** P2P: the payer's signed index at `toIndex`, kept as the holding's `end_message` (claims' `endIndex`). */
  readonly evidence?: IndexMessage;
  /** Payments this advance stands for (several, when written behind merged: behind.ts). Default 1. */
  readonly payments?: number;
}

/** How an applied advance is named in `writeRound`'s answer. */
export const appliedKey = (chainId: string, toIndex: number): string => `${chainId}\n${toIndex}`;

/**
 * One statement for a round (one advance per chain): a multi-row compare-and-set UPDATE that also keeps
 * each chain's latest receipt, and records the multi-party payments among those applied. Being one
 * statement, it is atomic without a transaction of its own. Answers the applied advances (`appliedKey`).
 */
export async function writeRound(q: Queryable, round: readonly Advance[], now: bigint): Promise<Set<string>> {
  const split = round.filter((a) => a.payees !== undefined);
  const rows = await q.query<{ chain_id: string; accepted_index: number }>(roundSql(split.length > 0), [
    round.map((a) => a.chainId),
    round.map((a) => a.fromIndex),
    round.map((a) => a.toIndex),
    round.map((a) => toBase64url(a.payword)),
    round.map((a) => JSON.stringify(a.receipt)),
    round.map((a) => a.payments ?? 1),
    round.map((a) => (a.evidence ? JSON.stringify(a.evidence) : null)),
    now,
    now - (now % 60_000n),
    ...(split.length === 0 ? [] : payeeParams(split)),
  ]);
  return new Set(rows.map((r) => appliedKey(r.chain_id, r.accepted_index)));
}

/** Parameters $10–$15: the multi-party payments among the round's advances. */
function payeeParams(split: readonly Advance[]): unknown[] {
  return [
    split.map((a) => a.chainId),
    split.map((a) => a.fromIndex),
    split.map((a) => toBase64url(a.fromPayword)),
    split.map((a) => a.toIndex),
    split.map((a) => toBase64url(a.payword)),
    split.map((a) => a.payees!),
  ];
}

function roundSql(withPayees: boolean): string {
  return `WITH applied AS (
         UPDATE vendor_chains v SET accepted_index = a.to_index, accepted_payword = a.payword,
           last_receipt = a.receipt, updated_at = $8,
           end_message = COALESCE(a.evidence::jsonb, v.end_message)
         FROM unnest($1::text[], $2::int4[], $3::int4[], $4::text[], $5::text[], $6::int4[], $7::text[])
           AS a(chain_id, from_index, to_index, payword, receipt, payments, evidence)
         WHERE v.chain_id = a.chain_id AND v.accepted_index = a.from_index AND v.status = 'held'
         RETURNING v.chain_id, v.accepted_index, a.receipt, a.payments,
           (a.to_index - a.from_index)::int8 * (v.touchstone->>'coinValue')::int8 AS amount
       ), revenue AS (
         -- A payment over several chains has one receipt on each: it counts once. A merged advance
         -- (written behind) stands for its payments count on one chain.
         INSERT INTO vendor_revenue (minute, amount, payments)
         SELECT $9, sum(amount), count(DISTINCT receipt) + sum(payments - 1) FROM applied HAVING count(*) > 0
         ON CONFLICT (minute) DO UPDATE SET amount = vendor_revenue.amount + excluded.amount,
           payments = vendor_revenue.payments + excluded.payments
       )${
         withPayees
           ? `, payees AS (
         INSERT INTO vendor_payee_payments (chain_id, from_index, from_payword, to_index, to_payword, payees)
         SELECT p.chain_id, p.from_index, p.from_payword, p.to_index, p.to_payword, p.payees
         FROM unnest($10::text[], $11::int4[], $12::text[], $13::int4[], $14::text[], $15::text[])
           AS p(chain_id, from_index, from_payword, to_index, to_payword, payees)
         JOIN applied ON applied.chain_id = p.chain_id AND applied.accepted_index = p.to_index
         ON CONFLICT DO NOTHING
       )`
           : ''
       }
       SELECT chain_id, accepted_index FROM applied`;
}
