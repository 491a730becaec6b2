/**
 * One redemption round: claims written down, then sent to the broker in batches, and each answer settled
 * in the store. A claim whose answer was lost is resent unchanged before any new claim is made for its
 * chain; only a credited claim counts as redeemed, a refused one is kept with its code.
 */
import type { BrokerClient } from '../broker-client.ts';
import type { ClaimRow } from '../store/store.ts';
import { byPayees, claimRow, type Range, ranges } from './claims.ts';
import type { RedeemerDeps } from './deps.ts';

/** Claims per redemption request (the broker takes up to 200). */
const BATCH = 100;

type ClaimResult = Awaited<ReturnType<BrokerClient['redeem']>>['results'][number];

/** What a round came to: claims sent, credited and refused (by code), and the amount credited. */
interface Tally {
  claims: number;
  credited: number;
  rejected: number;
  amount: bigint;
  codes: Record<string, number>;
}

/**
 * Redeems every accepted, unredeemed range now. Each claim is written down before it is sent; a claim
 * whose answer was lost is resent unchanged (the broker replays its answer) before any new claim is made
 * for that chain, so a range is never claimed twice under different ids. Only a credited claim counts as
 * redeemed; a refused one is kept with its code and not retried.
 */
export async function redeem(d: RedeemerDeps) {
  const resend = await d.store.sentClaims();
  const waiting = new Set(resend.map((c) => c.chain_id));
  const whole = (await ranges(d.store)).filter((r) => !waiting.has(r.chainId));
  const fresh: Range[] = [];
  for (const r of whole) if (r.to.index > r.from.index) fresh.push(...(await byPayees(d.store, r)));
  const rows = fresh.map((r) => claimRow(d, r));
  await d.store.recordClaims(
    rows,
    whole
      .filter((r) => r.earlier)
      .map((r) => ({ chainId: r.chainId, fromIndex: r.rangeFrom ?? r.from.index })),
  );
  const out = await submit(d, [...resend, ...rows]);
  return { ...out, amount: out.amount.toString() };
}

/** Sends the claims in batches and settles each answer; a claim without one is resent next round. */
async function submit(d: RedeemerDeps, all: readonly ClaimRow[]): Promise<Tally> {
  const out: Tally = { claims: all.length, credited: 0, rejected: 0, amount: 0n, codes: {} };
  for (let i = 0; i < all.length; i += BATCH) {
    const batch = all.slice(i, i + BATCH);
    const answer = await d.broker.redeem(batch.map((c) => c.claim));
    const byId = new Map(answer.results.map((r) => [r.claimId, r]));
    for (const c of batch) {
      const result = byId.get(c.claim_id);
      if (!result) continue; // no answer for it: resent next round
      await settle(d, c, result, out);
    }
  }
  return out;
}

async function settle(d: RedeemerDeps, c: ClaimRow, result: ClaimResult, out: Tally): Promise<void> {
  if (result.status === 'credited') {
    out.credited++;
    out.amount += BigInt(result.amount ?? '0');
    await d.store.settleClaim(c, 'credited', null, BigInt(result.amount ?? '0'));
  } else {
    out.rejected++;
    const code = result.code ?? 'rejected';
    out.codes[code] = (out.codes[code] ?? 0) + 1;
    await d.store.settleClaim(c, 'refused', code, null);
  }
}
