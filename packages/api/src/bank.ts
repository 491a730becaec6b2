import { MinorWireSchema } from '@netpay/protocol';
import { z } from 'zod';
import { IdempotencyKeySchema, route } from './route.ts';

/**
 * The stand-in bank's HTTP API (what the broker settles through): one zod schema per request and
 * response, and each route once, shared by the bank's routes (validation and OpenAPI) and the client.
 * Money is a decimal string of minor units on the wire. Request schemas are strict (an unknown field is an
 * error); response schemas are not, so an older client ignores newer fields.
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

const AccountParams = z.strictObject({ id: AccountIdSchema });
const TransferParams = z.strictObject({ id: TransferIdSchema });

/** The bank's routes (docs: README "The bank"); `account` auth is the account's Bearer token. */
export const bankApi = {
  info: route({
    method: 'GET',
    path: '/info',
    summary: 'The currency of this bank and whether it runs in dev mode',
    auth: 'none',
    responses: { 200: BankInfoWireSchema },
  }),
  createAccount: route({
    method: 'POST',
    path: '/accounts',
    summary: 'Open an account; the answer carries its token, once',
    auth: 'none',
    body: CreateAccountBodySchema,
    responses: { 201: CreatedAccountWireSchema },
    errors: ['initial_balance_not_allowed'],
  }),
  account: route({
    method: 'GET',
    path: '/accounts/:id',
    summary: 'An account and its balance (its token)',
    auth: 'account',
    params: AccountParams,
    responses: { 200: AccountWireSchema },
    errors: ['unauthorized', 'forbidden', 'account_not_found'],
  }),
  statement: route({
    method: 'GET',
    path: '/accounts/:id/statement',
    summary: 'Statement entries, oldest first, a page at a time (its token)',
    auth: 'account',
    params: AccountParams,
    query: StatementQuerySchema,
    responses: { 200: StatementWireSchema },
    errors: ['unauthorized', 'forbidden', 'account_not_found'],
  }),
  transfer: route({
    method: 'POST',
    path: '/transfers',
    summary: 'Move money (token of `from`); the same Idempotency-Key and body give the same answer',
    auth: 'account',
    key: 'required',
    body: TransferBodySchema,
    responses: { 201: TransferWireSchema },
    errors: [
      'unauthorized',
      'forbidden',
      'account_not_found',
      'same_account',
      'invalid_amount',
      'insufficient_funds',
      'balance_limit_exceeded',
      'idempotency_conflict',
    ],
  }),
  getTransfer: route({
    method: 'GET',
    path: '/transfers/:id',
    summary: 'One transfer (token of either party)',
    auth: 'account',
    params: TransferParams,
    responses: { 200: TransferWireSchema },
    errors: ['unauthorized', 'transfer_not_found'],
  }),
  findTransfer: route({
    method: 'GET',
    path: '/transfers',
    summary:
      'The transfer made with an Idempotency-Key (token of the payer): did my timed-out transfer happen?',
    auth: 'account',
    query: z.strictObject({ key: IdempotencyKeySchema }),
    responses: { 200: TransferWireSchema },
    errors: ['unauthorized', 'transfer_not_found'],
  }),
} as const;
export type BankApi = typeof bankApi;
