/** An account's statement: its entries, oldest first, a page at a time (`after` the last seq seen). */
import { DEFAULT_STATEMENT_LIMIT, MAX_STATEMENT_LIMIT } from '@netpay/api';
import { invariant } from '@netpay/protocol';
import { authorize } from './accounts.ts';
import { type BankContext, isoTime } from './context.ts';
import type { Statement, StatementEntry, StatementPage } from './wire.ts';

interface EntryRow {
  seq: bigint;
  kind: StatementEntry['kind'];
  amount: bigint;
  balance_after: bigint;
  counterparty: string | null;
  transfer_id: string | null;
  reference: string | null;
  created_at: bigint;
}

export async function statement(
  ctx: BankContext,
  token: string | undefined,
  accountId: string,
  page: StatementPage = {},
): Promise<Statement> {
  await authorize(ctx, token, accountId);
  const limit = page.limit ?? DEFAULT_STATEMENT_LIMIT;
  invariant(
    Number.isInteger(limit) && limit >= 1 && limit <= MAX_STATEMENT_LIMIT,
    `bad statement limit ${limit}`,
  );
  const after = BigInt(page.after ?? '0');
  const rows = await ctx.db.query<EntryRow>(
    `SELECT e.seq, e.kind, e.amount, e.balance_after, e.counterparty, e.transfer_id, t.reference, e.created_at
     FROM bank_entries e LEFT JOIN bank_transfers t ON t.id = e.transfer_id
     WHERE e.account_id = $1 AND e.seq > $2
     ORDER BY e.seq
     LIMIT $3`,
    [accountId, after, limit + 1],
  );
  const more = rows.length > limit;
  const entries = rows.slice(0, limit).map(
    (r): StatementEntry => ({
      seq: r.seq,
      kind: r.kind,
      amount: r.amount,
      balanceAfter: r.balance_after,
      counterparty: r.counterparty,
      transferId: r.transfer_id,
      reference: r.reference,
      createdAt: isoTime(r.created_at),
    }),
  );
  const last = entries.at(-1);
  return { accountId, entries, next: more && last ? last.seq.toString() : null };
}
