import type { AccountWire, CreatedAccountWire, StatementWire, TransferWire } from '@netpay/api';
import { MINOR_WIRE_RE } from '@netpay/protocol';

/**
 * The bank's domain types (bigint money) and their conversions to and from the wire format, whose schemas
 * and routes are the bank contract in @netpay/api (bank.ts).
 */
export interface Account {
  readonly id: string;
  readonly name: string;
  readonly balance: bigint;
}

export interface CreatedAccount extends Account {
  /** The account's bearer token: shown once, stored by the bank only as its SHA-256. */
  readonly token: string;
}

export interface Transfer {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly amount: bigint;
  readonly reference: string | null;
  /** The payer's idempotency key. */
  readonly key: string;
  /** ISO 8601. */
  readonly createdAt: string;
}

export interface StatementEntry {
  readonly seq: bigint;
  readonly kind: 'opening' | 'debit' | 'credit';
  /** Signed: negative for a debit. */
  readonly amount: bigint;
  readonly balanceAfter: bigint;
  readonly counterparty: string | null;
  readonly transferId: string | null;
  readonly reference: string | null;
  readonly createdAt: string;
}

export interface Statement {
  readonly accountId: string;
  /** Oldest first. */
  readonly entries: readonly StatementEntry[];
  /** Cursor for the next page, or null when this page reaches the newest entry. */
  readonly next: string | null;
}

export interface TransferInput {
  readonly from: string;
  readonly to: string;
  readonly amount: bigint;
  readonly reference?: string | undefined;
}

export interface StatementPage {
  /** 1–MAX_STATEMENT_LIMIT; default DEFAULT_STATEMENT_LIMIT. */
  readonly limit?: number | undefined;
  readonly after?: string | undefined;
}

/** Reads a wire amount that a schema has already checked (BigInt never sees anything but digits). */
function minorOf(text: string): bigint {
  if (!MINOR_WIRE_RE.test(text.startsWith('-') ? text.slice(1) : text)) {
    throw new Error(`not a wire amount: ${JSON.stringify(text)}`);
  }
  return BigInt(text);
}

export const accountToWire = (a: Account): AccountWire => ({
  id: a.id,
  name: a.name,
  balance: a.balance.toString(),
});
export const accountFromWire = (w: AccountWire): Account => ({
  id: w.id,
  name: w.name,
  balance: minorOf(w.balance),
});

export const createdAccountToWire = (a: CreatedAccount): CreatedAccountWire => ({
  ...accountToWire(a),
  token: a.token,
});
export const createdAccountFromWire = (w: CreatedAccountWire): CreatedAccount => ({
  ...accountFromWire(w),
  token: w.token,
});

export const transferToWire = (t: Transfer): TransferWire => ({ ...t, amount: t.amount.toString() });
export const transferFromWire = (w: TransferWire): Transfer => ({
  id: w.id,
  from: w.from,
  to: w.to,
  amount: minorOf(w.amount),
  reference: w.reference,
  key: w.key,
  createdAt: w.createdAt,
});

export const statementToWire = (s: Statement): StatementWire => ({
  accountId: s.accountId,
  entries: s.entries.map((e) => ({
    ...e,
    seq: e.seq.toString(),
    amount: e.amount.toString(),
    balanceAfter: e.balanceAfter.toString(),
  })),
  next: s.next,
});
export const statementFromWire = (w: StatementWire): Statement => ({
  accountId: w.accountId,
  entries: w.entries.map((e) => ({
    ...e,
    seq: minorOf(e.seq),
    amount: minorOf(e.amount),
    balanceAfter: minorOf(e.balanceAfter),
  })),
  next: w.next,
});
