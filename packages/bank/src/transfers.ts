/**
 * Transfers between two accounts: idempotent by the payer's key (the same key and body give the same
 * answer), both account rows locked in id order, each side's entry written with its balance after; and
 * finding a transfer by id or key.
 */
import { TRANSFER_ID_PREFIX } from '@netpay/api';
import type { Queryable } from '@netpay/db';
import { invariant, MAX_MINOR } from '@netpay/protocol';
import { idempotent, requireIdempotencyKey } from '@netpay/service';
import { authenticate, authorize } from './accounts.ts';
import { type BankContext, isoTime, newId } from './context.ts';
import { bankError } from './errors.ts';
import { type Transfer, type TransferInput, transferFromWire, transferToWire } from './wire.ts';

export type TransferLookup = { readonly id: string } | { readonly key: string };

export interface TransferResult {
  readonly transfer: Transfer;
  /** True when this is the stored answer to an earlier request with the same idempotency key. */
  readonly replayed: boolean;
}

export async function transfer(
  ctx: BankContext,
  token: string | undefined,
  key: string | undefined,
  input: TransferInput,
): Promise<TransferResult> {
  await authorize(ctx, token, input.from);
  const checkedKey = requireIdempotencyKey(key);
  if (input.amount <= 0n || input.amount > MAX_MINOR) {
    throw bankError('invalid_amount', 'a transfer moves more than zero and at most 2^63−1 minor units');
  }
  if (input.from === input.to) throw bankError('same_account', 'a transfer needs two different accounts');
  const request = {
    from: input.from,
    to: input.to,
    amount: input.amount.toString(),
    reference: input.reference ?? null,
  };
  const result = await idempotent(
    ctx.db,
    { scope: `bank.transfer:${input.from}`, key: checkedKey, request, now: () => ctx.clock.now() },
    async (tx) => ({ status: 201, body: transferToWire(await executeTransfer(ctx, tx, checkedKey, input)) }),
  );
  return { transfer: transferFromWire(result.body), replayed: result.replayed };
}

/** Moves the money: both account rows locked in id order, so concurrent transfers cannot deadlock. */
async function executeTransfer(
  ctx: BankContext,
  tx: Queryable,
  key: string,
  input: TransferInput,
): Promise<Transfer> {
  const { from, to, amount } = input;
  const rows = await tx.query<{ id: string; balance: bigint; last_seq: bigint }>(
    'SELECT id, balance, last_seq FROM bank_accounts WHERE id IN ($1, $2) ORDER BY id FOR UPDATE',
    [from, to],
  );
  const payer = rows.find((r) => r.id === from);
  const payee = rows.find((r) => r.id === to);
  if (!payer) throw bankError('account_not_found', `no account ${from}`);
  if (!payee) throw bankError('account_not_found', `no account ${to}`);
  if (payer.balance < amount) {
    throw bankError('insufficient_funds', `account ${from} holds ${payer.balance}, less than ${amount}`, {
      available: payer.balance.toString(),
    });
  }
  if (payee.balance > MAX_MINOR - amount) {
    throw bankError('balance_limit_exceeded', `account ${to} cannot hold that much more`);
  }
  const payerBalance = payer.balance - amount;
  const payeeBalance = payee.balance + amount;
  invariant(payerBalance >= 0n && payeeBalance >= amount, 'a transfer must not make a balance negative');
  invariant(payerBalance + payeeBalance === payer.balance + payee.balance, 'a transfer must conserve money');
  const payerSeq = payer.last_seq + 1n;
  const payeeSeq = payee.last_seq + 1n;
  const id = newId(ctx, TRANSFER_ID_PREFIX);
  const now = BigInt(ctx.clock.now());
  const reference = input.reference ?? null;

  await tx.query(
    `INSERT INTO bank_transfers (id, from_account, to_account, amount, reference, idempotency_key, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [id, from, to, amount, reference, key, now],
  );
  await tx.query(
    `UPDATE bank_accounts AS a SET balance = v.balance, last_seq = v.seq
     FROM (VALUES ($1::text, $2::bigint, $3::bigint), ($4::text, $5::bigint, $6::bigint)) AS v (id, balance, seq)
     WHERE a.id = v.id`,
    [from, payerBalance, payerSeq, to, payeeBalance, payeeSeq],
  );
  await tx.query(
    `INSERT INTO bank_entries (account_id, seq, kind, amount, balance_after, counterparty, transfer_id, created_at)
     VALUES ($1, $2, 'debit', $3, $4, $5, $9, $10), ($5, $6, 'credit', $7, $8, $1, $9, $10)`,
    [from, payerSeq, -amount, payerBalance, to, payeeSeq, amount, payeeBalance, id, now],
  );
  return { id, from, to, amount, reference, key, createdAt: isoTime(now) };
}

interface TransferRow {
  id: string;
  from_account: string;
  to_account: string;
  amount: bigint;
  reference: string | null;
  idempotency_key: string;
  created_at: bigint;
}

const TRANSFER_COLUMNS = 'id, from_account, to_account, amount, reference, idempotency_key, created_at';

function transferFromRow(r: TransferRow): Transfer {
  return {
    id: r.id,
    from: r.from_account,
    to: r.to_account,
    amount: r.amount,
    reference: r.reference,
    key: r.idempotency_key,
    createdAt: isoTime(r.created_at),
  };
}

/** By id or by idempotency key, with the token of either party. */
export async function findTransfer(
  ctx: BankContext,
  token: string | undefined,
  lookup: TransferLookup,
): Promise<Transfer> {
  const holder = await authenticate(ctx, token);
  if ('key' in lookup) {
    // The payer finds its own transfer by key; a payee may ask too (a merchant checking that a customer
    // paid it under the key it gave them). Keys are per payer, so a payee sees the oldest match.
    const [row] = await ctx.db.query<TransferRow>(
      `SELECT ${TRANSFER_COLUMNS} FROM bank_transfers
       WHERE idempotency_key = $2 AND (from_account = $1 OR to_account = $1)
       ORDER BY (from_account = $1) DESC, created_at, id LIMIT 1`,
      [holder, lookup.key],
    );
    if (!row)
      throw bankError('transfer_not_found', 'no transfer to or from this account was made with that key');
    return transferFromRow(row);
  }
  const [row] = await ctx.db.query<TransferRow>(
    `SELECT ${TRANSFER_COLUMNS} FROM bank_transfers WHERE id = $1`,
    [lookup.id],
  );
  // A transfer between other accounts is reported as missing, so a token cannot probe for ids.
  if (!row || (row.from_account !== holder && row.to_account !== holder)) {
    throw bankError('transfer_not_found', `no transfer ${lookup.id} involving this account`);
  }
  return transferFromRow(row);
}
