/**
 * Today's spending per vendor and in all, kept in the document for the spend policy's daily limits
 * (a week of days is kept). A payment counts from the moment it is made; a refusal takes it back.
 */
import type { WalletCore } from '../core.ts';

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export const today = (w: WalletCore) => isoDay(w.clock());

/** What was spent today at `vendorId`, or at all vendors (`'*'`). */
export function spentToday(w: WalletCore, vendorId: string | '*'): bigint {
  return BigInt(w.state.spending[`${today(w)}|${vendorId}`] ?? '0');
}

/** Adds to (or, for a refused payment, takes back from) a day's spending; the caller saves. */
export function count(w: WalletCore, day: string, vendorId: string, amount: bigint) {
  const { spending } = w.state;
  for (const k of [`${day}|${vendorId}`, `${day}|*`]) {
    const total = BigInt(spending[k] ?? '0') + amount;
    if (total > 0n) spending[k] = total.toString();
    else delete spending[k];
  }
  const weekAgo = isoDay(w.clock() - 7 * 86_400_000);
  for (const k of Object.keys(spending)) if (k.slice(0, 10) < weekAgo) delete spending[k];
}

/** Counts a payment made outside the coins (a server-side wallet charge) toward today's limits. */
export function addSpending(w: WalletCore, vendorId: string, amount: bigint) {
  return w.exclusive(async () => {
    count(w, today(w), vendorId, amount);
    await w.save();
  });
}
