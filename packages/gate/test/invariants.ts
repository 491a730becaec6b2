/**
 * The money invariants of docs/protocol.md §8.9, checked from the broker's ledger and tables and from the
 * vendors' own records (what they receipted and what the broker credited them):
 * (I1) every coin a vendor gave a receipt for is credited to it;
 * (I2) no coin is paid out twice unless the owner is charged back for it, with the evidence kept;
 * (I3) per chain, bought + charged back = credited + refunded + unspent, and the ledger audit balances;
 * (I4) an honest customer is never charged back.
 */
import type { Queryable } from '@netpay/db';
import { decodeHeader, HEADERS } from '@netpay/protocol';
import { expect } from 'vitest';
import { coveredCoins } from '../../broker/src/redemption/service.ts';
import type { World } from '../../broker/test/world.ts';
import type { RunningVendor } from './vendor-world.ts';

/** Coins of each chain a client got receipts for, per vendor: what (I1) holds the vendor to. */
export class Receipts {
  readonly coins = new Map<string, number>();

  /** Records the receipt of a paid response (if it has one); returns the response's status. */
  keep(vendorId: string, res: Response): number {
    const header = res.headers.get(HEADERS.receipt);
    if (header) {
      const r = decodeHeader('receipt', header);
      if (!r.ok) throw new Error(`bad receipt: ${r.error.message}`);
      for (const p of r.value.parts) {
        const k = `${vendorId} ${p.chainId}`;
        this.coins.set(k, (this.coins.get(k) ?? 0) + p.coins);
      }
    }
    return res.status;
  }

  of(vendorId: string): number {
    let n = 0;
    for (const [k, v] of this.coins) if (k.startsWith(`${vendorId} `)) n += v;
    return n;
  }
}

/** (I1): after redeeming, the coins credited to the vendor (its own claim records) are those receipted. */
export async function checkI1(v: RunningVendor, receipts: Receipts) {
  await v.redeemer.redeem();
  const [row] = await v.db.query<{ credited: bigint; refused: bigint }>(
    `SELECT COALESCE(sum(to_index - from_index) FILTER (WHERE status = 'credited'), 0)::int8 AS credited,
            count(*) FILTER (WHERE status = 'refused')::int8 AS refused FROM vendor_claims`,
  );
  expect(Number(row!.refused), `${v.id} had claims refused`).toBe(0);
  expect(Number(row!.credited), `coins credited to ${v.id}`).toBe(receipts.of(v.id));
}

/** (I2), (I3) for each chain, and (I4) for the honest customers; then the ledger audit. */
export async function checkChains(w: World, chainIds: readonly string[], honest: readonly string[]) {
  for (const chainId of chainIds) await checkChain(w.db, chainId);
  const charged = await w.db.query<{ customer_id: string }>(
    'SELECT DISTINCT customer_id FROM charge_backs WHERE customer_id = ANY($1::text[])',
    [honest],
  );
  expect(charged, '(I4) an honest customer was charged back').toEqual([]);
  await w.audit();
}

async function checkChain(db: Queryable, chainId: string) {
  const [c] = await db.query<{ n: number; coin_value: bigint }>(
    'SELECT n, coin_value FROM chains WHERE chain_id = $1',
    [chainId],
  );
  const ranges = await db.query<{ kind: string; from_index: number; to_index: number; amount: bigint }>(
    'SELECT kind, from_index, to_index, amount FROM redemptions WHERE chain_id = $1',
    [chainId],
  );
  const [cb] = await db.query<{ coins: bigint; amount: bigint }>(
    'SELECT COALESCE(sum(coins), 0)::int8 AS coins, COALESCE(sum(amount), 0)::int8 AS amount FROM charge_backs WHERE chain_id = $1',
    [chainId],
  );
  const [evidence] = await db.query<{ n: bigint }>(
    "SELECT count(*)::int8 AS n FROM fraud_evidence WHERE chain_id = $1 AND reason = 'double_spend'",
    [chainId],
  );
  const sum = (kind: string) => ranges.filter((r) => r.kind === kind).reduce((s, r) => s + r.amount, 0n);
  const paidCoins = ranges.reduce((s, r) => s + (r.to_index - r.from_index), 0);
  const distinct = coveredCoins(ranges, 0, c!.n);
  const doubled = paidCoins - distinct;
  // (I2): every coin paid out (credited or refunded) more than once is charged back, with evidence.
  expect(Number(cb!.coins), `(I2) chain ${chainId}: coins paid twice vs charged back`).toBe(doubled);
  if (doubled > 0) expect(Number(evidence!.n)).toBeGreaterThan(0);
  // (I3): bought + charged back = credited + refunded + unspent.
  const unspent = BigInt(c!.n - distinct) * c!.coin_value;
  expect(BigInt(c!.n) * c!.coin_value + cb!.amount, `(I3) chain ${chainId}`).toBe(
    sum('redemption') + sum('refund') + unspent,
  );
}
