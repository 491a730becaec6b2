/**
 * Money between a customer's bank account and their broker account (docs/broker.md §6.2): loads pull it
 * in, unloads pay it back, each exactly once per Idempotency-Key. The movement row is written before the
 * bank is called, keyed by the movement id, so a time-out or a crash is finished by reconcile: the bank
 * moves each key once. Its SQL is in store.ts.
 */
import type { Queryable } from '@netpay/db';
import { isNetPayError, sha256, toHex, utf8 } from '@netpay/protocol';
import type { Bank } from '../bank.ts';
import type { BrokerConfig } from '../config.ts';
import { fail } from '../errors.ts';
import { customerAccount, SYSTEM_ACCOUNTS } from '../ledger/ledger.ts';
import { customerBalance, debitCustomer } from './balance.ts';
import type { IssuanceDeps } from './deps.ts';
import type { MovementKind } from './store.ts';
import * as store from './store.ts';

/** A pending load the bank has no trace of after this long is marked failed. */
const LOAD_GIVE_UP_MS = 86_400_000;

/** The bank and the broker's own account at it. */
interface BankLink {
  readonly bank: Bank;
  readonly own: NonNullable<BrokerConfig['bank']>;
}

/** A movement as the bank sees it: its key, whose money, how much, and the customer's bank account. */
interface Movement {
  readonly id: string;
  readonly customerId: string;
  readonly amount: bigint;
  readonly bankAccount: string;
}

type MovementDeps = Pick<IssuanceDeps, 'db' | 'clock' | 'ledger'>;

/** The movement at the bank, keyed (and referenced) by its id: the bank moves each key once. */
function transfer(bank: Bank, m: Movement, way: { from: string; to: string; token: string }) {
  return bank.transfer({ key: m.id, amount: m.amount, reference: m.id, ...way });
}

/** The movement's id (and the bank's key): the same for the same customer and Idempotency-Key. */
function movementId(kind: MovementKind, customerId: string, key: string): string {
  return `${kind}_${toHex(sha256(utf8(`${customerId}\n${key}`))).slice(0, 40)}`;
}

function requireBank(d: Pick<IssuanceDeps, 'bank' | 'config'>): BankLink {
  if (!d.bank || !d.config.bank)
    throw fail('bank_unavailable', 'this broker has no bank connection configured');
  return { bank: d.bank, own: d.config.bank };
}

/** Marks a bank movement done or failed now; only one still pending when `onlyPending`. */
const markMovement = (
  d: Pick<IssuanceDeps, 'clock'>,
  q: Queryable,
  id: string,
  status: 'done' | 'failed',
  onlyPending = true,
) => store.markMovement(q, id, status, BigInt(d.clock()), onlyPending);

/**
 * Records the movement under its id, or returns the status of the one recorded under it already (the
 * same request retried); `onInsert` runs in the same transaction as a new row (an unload's debit).
 */
async function recordMovement(
  d: Pick<IssuanceDeps, 'db' | 'clock'>,
  kind: MovementKind,
  m: Movement,
  onInsert?: (tx: Queryable) => Promise<void>,
): Promise<'pending' | 'done' | 'failed'> {
  return d.db.transaction(async (tx) => {
    const found = await store.lockMovement(tx, m.id);
    if (found) {
      if (found.amount !== m.amount || found.bank_account !== m.bankAccount) {
        throw fail('idempotency_conflict', 'this Idempotency-Key was used with a different request');
      }
      return found.status;
    }
    await store.insertMovement(tx, { ...m, kind, createdAt: BigInt(d.clock()) });
    await onInsert?.(tx);
    return 'pending';
  });
}

/**
 * Credits the customer for a movement (a load that arrived, or an unload the bank refused) and marks it,
 * in one transaction, when `applies` accepts the movement's current status. Exactly once: the ledger
 * transfer id is derived from the movement id.
 */
async function creditForMovement(
  d: MovementDeps,
  m: { id: string; customerId: string; amount: bigint },
  o: { applies: (status: string) => boolean; transferId: string; kind: string; status: 'done' | 'failed' },
) {
  await d.db.transaction(async (tx) => {
    const status = await store.lockMovementStatus(tx, m.id);
    if (status === undefined || !o.applies(status)) return;
    await d.ledger.post(tx, [
      {
        id: o.transferId,
        debit: SYSTEM_ACCOUNTS.bank,
        credit: customerAccount(m.customerId),
        amount: m.amount,
        kind: o.kind,
        ref: m.id,
      },
    ]);
    await markMovement(d, tx, m.id, o.status, false);
  });
}

/** The bank confirmed the money arrived: credit it even if reconcile gave up on it meanwhile. */
const completeLoad = (d: MovementDeps, m: { id: string; customerId: string; amount: bigint }) =>
  creditForMovement(d, m, { applies: (st) => st !== 'done', transferId: m.id, kind: 'load', status: 'done' });

/** Pulls money from the customer's bank account into the broker account (exactly once per key). */
export async function load(
  d: Pick<IssuanceDeps, 'db' | 'clock' | 'ledger' | 'bank' | 'config'>,
  customerId: string,
  input: { amount: bigint; bankAccount: string; bankToken: string },
  key: string,
) {
  const { bank, own } = requireBank(d);
  const limits = d.config.limits;
  if (input.amount < limits.minLoad || input.amount > limits.maxLoad) {
    throw fail(
      'limit_exceeded',
      `a load must be between ${limits.minLoad} and ${limits.maxLoad} minor units`,
    );
  }
  const m = { id: movementId('load', customerId, key), customerId, ...input };
  const status = await recordMovement(d, 'load', m);
  if (status === 'failed') throw fail('bank_rejected', 'this load was refused by the bank');
  if (status === 'pending') {
    try {
      await transfer(bank, m, { from: input.bankAccount, to: own.account, token: input.bankToken });
    } catch (e) {
      if (isNetPayError(e, 'bank_rejected')) await markMovement(d, d.db, m.id, 'failed', false);
      throw e;
    }
    await completeLoad(d, m);
  }
  return { movementId: m.id, amount: input.amount, balance: await customerBalance(d, d.db, customerId) };
}

/** Pays money from the customer's broker balance back to a bank account (exactly once per key). */
export async function unload(
  d: Pick<IssuanceDeps, 'db' | 'clock' | 'ledger' | 'bank' | 'config'>,
  customerId: string,
  input: { amount: bigint; bankAccount: string },
  key: string,
) {
  const link = requireBank(d);
  if (input.amount <= 0n) throw fail('bad_request', 'amount must be positive');
  const m = { id: movementId('unload', customerId, key), customerId, ...input };
  const status = await recordMovement(d, 'unload', m, async (tx) => {
    await debitCustomer(
      d,
      tx,
      customerId,
      input.amount,
      { id: m.id, kind: 'unload', credit: SYSTEM_ACCOUNTS.bank },
      0n,
    );
  });
  if (status === 'failed')
    throw fail('bank_rejected', 'this unload was refused by the bank; the money is back in your balance');
  if (status === 'pending') await sendUnload(d, link, m);
  return { movementId: m.id, amount: input.amount, balance: await customerBalance(d, d.db, customerId) };
}

/** Sends an unload to the bank (again, after a time-out: same key); a refusal puts the money back. */
async function sendUnload(d: MovementDeps, { bank, own }: BankLink, m: Movement) {
  try {
    await transfer(bank, m, { from: own.account, to: m.bankAccount, token: own.token });
  } catch (e) {
    if (isNetPayError(e, 'bank_rejected')) {
      // Definitive refusal: put the money back where it was.
      await creditForMovement(d, m, {
        applies: (st) => st === 'pending',
        transferId: `${m.id}:reversal`,
        kind: 'unload_reversal',
        status: 'failed',
      });
    }
    throw e;
  }
  await markMovement(d, d.db, m.id, 'done');
}

/**
 * Finishes bank movements left pending by a time-out or a crash: unloads are resent with the same key
 * (the bank does each key once); loads are completed when the bank confirms the customer's transfer
 * reached the broker's account under the movement's key (or failed if it never happened after a day).
 */
export async function reconcile(
  d: Pick<IssuanceDeps, 'db' | 'clock' | 'ledger' | 'bank' | 'config'>,
  olderThanMs = 60_000,
) {
  if (!d.bank || !d.config.bank) return { retried: 0 };
  const link = { bank: d.bank, own: d.config.bank };
  const rows = await store.pendingMovements(d.db, BigInt(d.clock() - olderThanMs));
  let retried = 0;
  for (const row of rows) {
    const m = { id: row.id, customerId: row.customer_id, amount: row.amount, bankAccount: row.bank_account };
    try {
      if (row.kind === 'unload') {
        await sendUnload(d, link, m);
      } else {
        const found = await link.bank.findTransfer(m.id, link.own.token);
        if (found) await completeLoad(d, m);
        else if (BigInt(d.clock()) - row.created_at > BigInt(LOAD_GIVE_UP_MS)) {
          // The bank never made it and nobody retried the key for a day: it will not happen.
          await markMovement(d, d.db, m.id, 'failed');
        }
      }
      retried++;
    } catch {
      // still unreachable or refused: left for the next run (refusals are already recorded as failed)
    }
  }
  return { retried };
}
