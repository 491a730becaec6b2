/**
 * Settlement (the paper's end of day): vendors' credited balances are paid out to their bank accounts.
 * A payout row and its ledger transfer (vendor → bank) are written together first; the bank call comes
 * after, keyed by the payout id, so a time-out or a crash is resolved by sending the same key again —
 * the bank moves each key once. Due payouts are claimed with FOR UPDATE SKIP LOCKED, with an attempt
 * counter and exponential back-off. A definitive refusal reverses the transfer; an unknown outcome never does.
 *
 * Plain functions over SettlementDeps; createSettlementService binds them. Their SQL is in store.ts.
 */
import { isNetPayError } from '@netpay/protocol';
import { type Bank, bankFailureText } from '../bank.ts';
import { type BrokerBasics, type BrokerContext, newId } from '../context.ts';
import { fail } from '../errors.ts';
import { type Ledger, SYSTEM_ACCOUNTS, vendorAccount } from '../ledger/ledger.ts';
import type { PayoutRow } from './store.ts';
import * as store from './store.ts';

/** What settlement runs on. */
export interface SettlementDeps extends BrokerBasics {
  // It reads from config: the broker's bank account, the payouts' attempt limit and back-off, and
  // p2p.currency (peers' token earnings are never paid out).
  /** A payout is a transfer vendor → bank; a refused one is reversed. */
  readonly ledger: Pick<Ledger, 'post'>;
  /** Where payouts are sent; null when this broker has no bank connection. */
  readonly bank: Bank | null;
}

/** The bank and the broker's own account at it, or bank_unavailable when there is none. */
function requireBank(d: Pick<SettlementDeps, 'bank' | 'config'>) {
  if (!d.bank || !d.config.bank)
    throw fail('bank_unavailable', 'this broker has no bank connection configured');
  return { bank: d.bank, own: d.config.bank };
}

/**
 * Writes a payout and its ledger transfer for every credited vendor balance, in one transaction. In tokens
 * mode (`p2p.currency`) peers are left out: what they earned is tokens, never paid out as money.
 */
async function createPayouts(
  d: Pick<SettlementDeps, 'db' | 'clock' | 'random' | 'ledger' | 'config'>,
  runId: string,
) {
  return d.db.transaction(async (tx) => {
    await store.insertRun(tx, runId, BigInt(d.clock()));
    const due = await store.lockBalancesDue(tx, d.config.p2p.currency === 'tokens');
    const now = BigInt(d.clock());
    let total = 0n;
    const ids = due.map(() => newId(d, 'payout'));
    for (const [k, v] of due.entries()) {
      const p = {
        id: ids[k]!,
        runId,
        partyId: v.party_id,
        bankAccount: v.bank_account,
        amount: v.balance,
        now,
      };
      await store.insertPayout(tx, p);
      total += v.balance;
    }
    await d.ledger.post(
      tx,
      due.map((v, k) => ({
        id: ids[k]!,
        debit: vendorAccount(v.party_id),
        credit: SYSTEM_ACCOUNTS.bank,
        amount: v.balance,
        kind: 'payout',
        ref: v.party_id,
      })),
    );
    await store.setRunTotals(tx, runId, due.length, total);
    return { created: due.length, total };
  });
}

/** Claims the next due payout, counting the attempt and backing the next one off exponentially. */
async function claimDue(d: Pick<SettlementDeps, 'db' | 'clock' | 'config'>): Promise<PayoutRow | undefined> {
  return d.db.transaction(async (tx) => {
    const p = await store.lockDuePayout(tx, BigInt(d.clock()), d.config.payoutMaxAttempts);
    if (!p) return undefined;
    const backoff = BigInt(d.config.payoutBackoffSeconds * 1000 * 2 ** p.attempts);
    await store.countAttempt(tx, p.id, BigInt(d.clock()) + backoff);
    return p;
  });
}

/** Sends one payout; a refusal fails it and gives the vendor its money back, a time-out leaves it pending. */
async function sendPayout(
  d: Pick<SettlementDeps, 'db' | 'clock' | 'ledger'>,
  { bank, own }: ReturnType<typeof requireBank>,
  p: PayoutRow,
): Promise<'sent' | 'failed' | 'retrying'> {
  try {
    const t = await bank.transfer({
      key: p.id,
      from: own.account,
      to: p.bank_account,
      amount: p.amount,
      token: own.token,
      reference: p.id,
    });
    await store.markSent(d.db, p.id, t.id, BigInt(d.clock()));
    return 'sent';
  } catch (e) {
    const message = bankFailureText(e);
    if (!isNetPayError(e, 'bank_rejected')) {
      await store.recordError(d.db, p.id, message);
      return 'retrying';
    }
    await d.db.transaction(async (tx) => {
      await store.markFailed(tx, p.id, message, BigInt(d.clock()));
      await d.ledger.post(tx, [
        {
          id: `${p.id}:reversal`,
          debit: SYSTEM_ACCOUNTS.bank,
          credit: vendorAccount(p.party_id),
          amount: p.amount,
          kind: 'payout_reversal',
          ref: p.id,
        },
      ]);
    });
    return 'failed';
  }
}

/** Sends every due payout once (a payout claimed again in the same call ends the loop). */
export async function sendPayouts(d: Pick<SettlementDeps, 'db' | 'clock' | 'config' | 'ledger' | 'bank'>) {
  const link = requireBank(d);
  const out = { sent: 0, failed: 0, retrying: 0 };
  const seen = new Set<string>();
  for (let p = await claimDue(d); p && !seen.has(p.id); p = await claimDue(d)) {
    seen.add(p.id);
    out[await sendPayout(d, link, p)]++;
  }
  return out;
}

/** One settlement run: pay out every credited vendor balance, then send every due payout. */
export async function run(d: SettlementDeps) {
  // Without a bank nothing can be paid: leave vendor balances where they are.
  requireBank(d);
  const runId = newId(d, 'run');
  const created = await createPayouts(d, runId);
  const sent = await sendPayouts(d);
  await store.finishRun(d.db, runId, BigInt(d.clock()));
  return { runId, created: created.created, total: created.total.toString(), ...sent };
}

/** The most recent runs, newest first. */
export async function runs(d: Pick<SettlementDeps, 'db'>, limit = 50) {
  const rows = await store.recentRuns(d.db, limit);
  return rows.map((r) => ({
    runId: r.id,
    startedAt: new Date(Number(r.started_at)).toISOString(),
    finishedAt: r.finished_at === null ? null : new Date(Number(r.finished_at)).toISOString(),
    payouts: r.payouts,
    total: r.total.toString(),
  }));
}

/** The settlement functions bound to their dependencies: what the admin routes, the server's timer and tests call. */
export function createSettlementService(
  ctx: Pick<BrokerContext, 'db' | 'config' | 'clock' | 'random' | 'ledger' | 'bank'>,
) {
  const { db, config, clock, random, ledger, bank } = ctx;
  const d: SettlementDeps = { db, config, clock, random, ledger, bank };
  return {
    run: () => run(d),
    sendPayouts: () => sendPayouts(d),
    runs: (limit?: number) => runs(d, limit),
  };
}

export type SettlementService = ReturnType<typeof createSettlementService>;
