import { MINOR_WIRE_RE, MinorWireSchema } from '@netpay/protocol';
import { z } from 'zod';

/**
 * The bank's wire format: one zod schema per request and response, shared by the routes (validation and
 * OpenAPI) and the client (parsing answers), and the domain types the service and the client hand out.
 * Money is a decimal string of minor units on the wire and a `bigint` in code. Request schemas are strict
 * (an unknown field is an error); response schemas are not, so an older client ignores newer fields.
 */

export const ACCOUNT_ID_PREFIX = 'acc_';
export const TRANSFER_ID_PREFIX = 'tr_';
export const TOKEN_PREFIX = 'bkt_';
/** Largest page of a statement. */
export const MAX_STATEMENT_LIMIT = 200;
export const DEFAULT_STATEMENT_LIMIT = 50;
export const MAX_NAME_LENGTH = 100;
export const MAX_REFERENCE_LENGTH = 200;

const NO_CONTROL_CHARS = /^[^\p{Cc}\p{Cs}]*$/u;

export const AccountIdSchema = z
  .string()
  .regex(/^acc_[A-Za-z0-9_-]{22}$/, 'must be an account id (acc_ and 22 base64url characters)');
export const TransferIdSchema = z
  .string()
  .regex(/^tr_[A-Za-z0-9_-]{22}$/, 'must be a transfer id (tr_ and 22 base64url characters)');
export const AccountNameSchema = z
  .string()
  .min(1)
  .max(MAX_NAME_LENGTH)
  .regex(NO_CONTROL_CHARS, 'must not contain control characters')
  .refine((s) => s.trim().length > 0, 'must not be blank');
export const ReferenceSchema = z
  .string()
  .min(1)
  .max(MAX_REFERENCE_LENGTH)
  .regex(NO_CONTROL_CHARS, 'must not contain control characters');
export const PositiveMinorWireSchema = MinorWireSchema.refine((s) => s !== '0', 'must be greater than zero');
/** A signed amount of minor units ("-250", "250"); only in responses. */
export const SignedMinorWireSchema = z.string().regex(/^(0|-?[1-9][0-9]{0,18})$/, 'must be a signed decimal');
/** Statement cursor: the sequence number of the last entry seen. */
export const CursorSchema = z.string().regex(/^(0|[1-9][0-9]{0,17})$/, 'must be a cursor from a statement');
const TimestampSchema = z.iso.datetime().describe('ISO 8601 time, UTC');

// ---- requests ----------------------------------------------------------------------------------------

export const CreateAccountBodySchema = z
  .strictObject({
    name: AccountNameSchema,
    initialBalance: MinorWireSchema.optional().describe('opening balance in minor units; dev mode only'),
  })
  .describe('CreateAccount');

export const TransferBodySchema = z
  .strictObject({
    from: AccountIdSchema.describe('the account debited; the bearer token must be its token'),
    to: AccountIdSchema.describe('the account credited'),
    amount: PositiveMinorWireSchema.describe('minor units, a decimal string'),
    reference: ReferenceSchema.optional().describe('free text shown on both statements'),
  })
  .describe('TransferRequest');

export const StatementQuerySchema = z.strictObject({
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,2}$/, 'must be a whole number from 1')
    .transform(Number)
    .pipe(z.number().max(MAX_STATEMENT_LIMIT))
    .optional()
    .describe(`entries per page, 1–${MAX_STATEMENT_LIMIT}, default ${DEFAULT_STATEMENT_LIMIT}`),
  after: CursorSchema.optional().describe('the `next` cursor of the previous page'),
});

// ---- responses ---------------------------------------------------------------------------------------

export const BankInfoWireSchema = z
  .object({
    currency: z.object({ code: z.string(), exponent: z.number().int() }),
    dev: z.boolean().describe('accounts may be opened with an initial balance'),
  })
  .describe('BankInfo');

export const AccountWireSchema = z
  .object({ id: AccountIdSchema, name: z.string(), balance: MinorWireSchema })
  .describe('Account');

export const CreatedAccountWireSchema = AccountWireSchema.extend({
  token: z.string().describe('authorizes this account: returned once, store it'),
}).describe('CreatedAccount');

export const TransferWireSchema = z
  .object({
    id: TransferIdSchema,
    from: AccountIdSchema,
    to: AccountIdSchema,
    amount: MinorWireSchema,
    reference: z.string().nullable(),
    key: z.string().describe("the payer's Idempotency-Key: its external reference"),
    createdAt: TimestampSchema,
  })
  .describe('Transfer');

export const StatementEntryWireSchema = z
  .object({
    seq: z.string().describe('position in this account’s statement, from 1'),
    kind: z.enum(['opening', 'debit', 'credit']),
    amount: SignedMinorWireSchema.describe('negative for a debit'),
    balanceAfter: MinorWireSchema,
    counterparty: AccountIdSchema.nullable(),
    transferId: TransferIdSchema.nullable(),
    reference: z.string().nullable(),
    createdAt: TimestampSchema,
  })
  .describe('StatementEntry');

export const StatementWireSchema = z
  .object({
    accountId: AccountIdSchema,
    entries: z.array(StatementEntryWireSchema).describe('oldest first, newest last'),
    next: CursorSchema.nullable().describe('pass as `after` for the next page; null at the end'),
  })
  .describe('Statement');

export type CreateAccountBody = z.infer<typeof CreateAccountBodySchema>;
export type TransferBody = z.infer<typeof TransferBodySchema>;
export type BankInfoWire = z.infer<typeof BankInfoWireSchema>;
export type AccountWire = z.infer<typeof AccountWireSchema>;
export type CreatedAccountWire = z.infer<typeof CreatedAccountWireSchema>;
export type TransferWire = z.infer<typeof TransferWireSchema>;
export type StatementEntryWire = z.infer<typeof StatementEntryWireSchema>;
export type StatementWire = z.infer<typeof StatementWireSchema>;

// ---- domain types (bigint money) and their conversions -------------------------------------------------

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
