import { BankRejected } from '../bank.ts';
import { type BrokerContext, newId } from '../context.ts';
import { fail } from '../errors.ts';
import { SYSTEM_ACCOUNTS, vendorAccount } from '../ledger/ledger.ts';

interface PayoutRow {
  id: string;
  party_id: string;
  bank_account: string;
  amount: bigint;
  attempts: number;
}

/**
 * Settlement (the paper's end of day): vendors' credited balances are paid out to their bank accounts.
 * A payout row and its ledger transfer (vendor → bank) are written together first; the bank call comes
 * after, keyed by the payout id, so a time-out or a crash is resolved by sending the same key again —
 * the bank moves each key once. Due payouts are claimed with FOR UPDATE SKIP LOCKED, with an attempt
 * counter and exponential back-off. A definitive refusal reverses the transfer; an unknown outcome never does.
 */
export function createSettlementService(ctx: BrokerContext) {
  const { db, config, ledger } = ctx;

  async function createPayouts(runId: string) {
    return db.transaction(async (tx) => {
      await tx.query('INSERT INTO payout_runs (id, started_at) VALUES ($1, $2)', [
        runId,
        BigInt(ctx.clock()),
      ]);
      const due = await tx.query<{ party_id: string; balance: bigint; bank_account: string }>(
        `SELECT p.id AS party_id, a.balance, p.bank_account FROM parties p JOIN ledger_accounts a ON a.id = 'vendor:' || p.id
         WHERE a.balance > 0 AND p.bank_account IS NOT NULL ORDER BY a.id FOR UPDATE OF a`,
      );
      const now = BigInt(ctx.clock());
      let total = 0n;
      const ids = due.map(() => newId(ctx, 'payout'));
      for (const [k, d] of due.entries()) {
        const id = ids[k]!;
        await tx.query(
          `INSERT INTO payouts (id, run_id, party_id, bank_account, amount, status, next_attempt_at, created_at)
           VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)`,
          [id, runId, d.party_id, d.bank_account, d.balance, now],
        );
        total += d.balance;
      }
      await ledger.post(
        tx,
        due.map((d, k) => ({
          id: ids[k]!,
          debit: vendorAccount(d.party_id),
          credit: SYSTEM_ACCOUNTS.bank,
          amount: d.balance,
          kind: 'payout',
          ref: d.party_id,
        })),
      );
      await tx.query('UPDATE payout_runs SET payouts = $2, total = $3 WHERE id = $1', [
        runId,
        due.length,
        total,
      ]);
      return { created: due.length, total };
    });
  }

  async function claimDue(): Promise<PayoutRow | undefined> {
    return db.transaction(async (tx) => {
      const [p] = await tx.query<PayoutRow & { next_attempt_at: bigint }>(
        `SELECT id, party_id, bank_account, amount, attempts, next_attempt_at FROM payouts
         WHERE status = 'pending' AND next_attempt_at <= $1 AND attempts < $2
         ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [BigInt(ctx.clock()), config.payoutMaxAttempts],
      );
      if (!p) return undefined;
      const backoff = BigInt(config.payoutBackoffSeconds * 1000 * 2 ** p.attempts);
      await tx.query('UPDATE payouts SET attempts = attempts + 1, next_attempt_at = $2 WHERE id = $1', [
        p.id,
        BigInt(ctx.clock()) + backoff,
      ]);
      return p;
    });
  }

  async function sendPayouts() {
    if (!ctx.bank || !config.bank)
      throw fail('bank_unavailable', 'this broker has no bank connection configured');
    const { bank } = ctx;
    const own = config.bank;
    const out = { sent: 0, failed: 0, retrying: 0 };
    const seen = new Set<string>();
    for (let p = await claimDue(); p && !seen.has(p.id); p = await claimDue()) {
      seen.add(p.id);
      try {
        const t = await bank.transfer({
          key: p.id,
          from: own.account,
          to: p.bank_account,
          amount: p.amount,
          token: own.token,
          reference: p.id,
        });
        await db.query(
          "UPDATE payouts SET status = 'sent', bank_transfer_id = $2, completed_at = $3 WHERE id = $1",
          [p.id, t.id, BigInt(ctx.clock())],
        );
        out.sent++;
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        if (e instanceof BankRejected) {
          await db.transaction(async (tx) => {
            await tx.query(
              "UPDATE payouts SET status = 'failed', last_error = $2, completed_at = $3 WHERE id = $1 AND status = 'pending'",
              [p!.id, message, BigInt(ctx.clock())],
            );
            await ledger.post(tx, [
              {
                id: `${p!.id}:reversal`,
                debit: SYSTEM_ACCOUNTS.bank,
                credit: vendorAccount(p!.party_id),
                amount: p!.amount,
                kind: 'payout_reversal',
                ref: p!.id,
              },
            ]);
          });
          out.failed++;
        } else {
          await db.query('UPDATE payouts SET last_error = $2 WHERE id = $1', [p.id, message]);
          out.retrying++;
        }
      }
    }
    return out;
  }

  /** One settlement run: pay out every credited vendor balance, then send every due payout. */
  async function run() {
    // Without a bank nothing can be paid: leave vendor balances where they are.
    if (!ctx.bank || !config.bank)
      throw fail('bank_unavailable', 'this broker has no bank connection configured');
    const runId = newId(ctx, 'run');
    const created = await createPayouts(runId);
    const sent = await sendPayouts();
    await db.query('UPDATE payout_runs SET finished_at = $2 WHERE id = $1', [runId, BigInt(ctx.clock())]);
    return { runId, created: created.created, total: created.total.toString(), ...sent };
  }

  async function runs(limit = 50) {
    const rows = await db.query<{
      id: string;
      started_at: bigint;
      finished_at: bigint | null;
      payouts: number;
      total: bigint;
    }>('SELECT * FROM payout_runs ORDER BY started_at DESC LIMIT $1', [limit]);
    return rows.map((r) => ({
      runId: r.id,
      startedAt: new Date(Number(r.started_at)).toISOString(),
      finishedAt: r.finished_at === null ? null : new Date(Number(r.finished_at)).toISOString(),
      payouts: r.payouts,
      total: r.total.toString(),
    }));
  }

  return { run, sendPayouts, runs };
}

export type SettlementService = ReturnType<typeof createSettlementService>;
