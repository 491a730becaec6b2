import { z } from 'zod';
import { fromBase64url } from './bytes.ts';
import { CHAIN_ID_BYTES, MAX_CHAIN_LENGTH, PAYWORD_BYTES } from './chain.ts';
import { CURRENCY_CODE_RE, MAX_EXPONENT, MAX_MINOR, MINOR_WIRE_RE } from './money.ts';
import { err, ok, type Result } from './result.ts';

/**
 * Every NetPay v1 wire message as one zod schema: the single source of truth, with TypeScript types
 * inferred from it. Objects are strict (unknown fields are rejected) so each message has exactly one
 * canonical form to sign. docs/protocol.md describes each field.
 */

export const PROTOCOL_VERSION = 1;
/** Most chains one payment may carry. */
export const MAX_CHAINS_PER_PAYMENT = 16;
/** Most payees one priced resource may name. */
export const MAX_PAYEES = 8;
/** Shares are basis points: 10,000 is the whole amount. */
export const SHARE_TOTAL = 10_000;
/** Largest timestamp accepted (Unix seconds, year 2100). */
const MAX_TIME = 4_102_444_800;

const B64URL_RE = /^[A-Za-z0-9_-]*$/;

/** Base64url (no padding) of exactly `bytes` bytes, in its one canonical spelling. */
export const base64urlBytes = (bytes: number) =>
  z
    .string()
    .length(Math.ceil((bytes * 4) / 3))
    .regex(B64URL_RE, 'must be base64url without padding')
    .refine((s) => fromBase64url(s)?.length === bytes, `must encode exactly ${bytes} bytes`);

export const ChainIdSchema = base64urlBytes(CHAIN_ID_BYTES);
export const PaywordSchema = base64urlBytes(PAYWORD_BYTES);
export const SignatureSchema = base64urlBytes(64);
export const PublicKeySchema = base64urlBytes(32);
export const NonceSchema = base64urlBytes(16);
/** Identifiers of brokers, vendors, keys and payees: 1–128 printable ASCII characters, no spaces. */
export const PartyIdSchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,128}$/, 'must be 1–128 printable ASCII characters');
export const TimeSchema = z.number().int().min(0).max(MAX_TIME);
export const ChainIndexSchema = z.number().int().min(0).max(MAX_CHAIN_LENGTH);
export const ChainLengthSchema = z.number().int().min(1).max(MAX_CHAIN_LENGTH);
export const MinorWireSchema = z
  .string()
  .max(19)
  .regex(MINOR_WIRE_RE, 'must be a decimal string of minor units')
  // zod runs refinements even after a failed regex, so this one checks the shape again before BigInt().
  .refine((s) => MINOR_WIRE_RE.test(s) && BigInt(s) <= MAX_MINOR, 'must fit a signed 64-bit integer');
export const CurrencyCodeSchema = z
  .string()
  .regex(CURRENCY_CODE_RE, 'must be 3–12 uppercase letters or digits');
export const ExponentSchema = z.number().int().min(0).max(MAX_EXPONENT);
const Version = z.literal(PROTOCOL_VERSION);

/** The broker's signed statement that a chain with this root is worth n coins of coinValue. */
export const TouchstoneSchema = z
  .strictObject({
    v: Version,
    chainId: ChainIdSchema,
    root: PaywordSchema,
    n: ChainLengthSchema,
    coinValue: MinorWireSchema.refine((s) => s !== '0', 'a coin is worth more than zero'),
    currency: CurrencyCodeSchema,
    exponent: ExponentSchema,
    brokerId: PartyIdSchema,
    keyId: PartyIdSchema,
    issuedAt: TimeSchema,
    expiresAt: TimeSchema,
    /** P2P only: the peer that bought the chain, whose signed indexes a supplying peer accepts offline. */
    owner: PartyIdSchema.optional(),
    /** P2P only: the owner's Ed25519 public key. */
    ownerKey: PublicKeySchema.optional(),
    sig: SignatureSchema,
  })
  .refine((t) => (t.owner === undefined) === (t.ownerKey === undefined), {
    message: 'owner and ownerKey come together',
    path: ['ownerKey'],
  })
  .refine((t) => t.expiresAt > t.issuedAt, {
    message: 'expiresAt must be after issuedAt',
    path: ['expiresAt'],
  })
  .refine((t) => BigInt(t.n) * (minorOrNull(t.coinValue) ?? 0n) <= MAX_MINOR, {
    message: 'the chain is worth more than 2^63−1 minor units',
    path: ['coinValue'],
  });
export type Touchstone = z.infer<typeof TouchstoneSchema>;

/** A vendor's signed statement of how far a chain is spent at it, and to whom it handed the chain. */
export const IndexSchema = z.strictObject({
  v: Version,
  chainId: ChainIdSchema,
  index: ChainIndexSchema,
  payword: PaywordSchema,
  vendorId: PartyIdSchema,
  handedTo: PartyIdSchema.nullable(),
  issuedAt: TimeSchema,
  sig: SignatureSchema,
});
export type IndexMessage = z.infer<typeof IndexSchema>;

/** One chain's part of a payment: W(index), revealing coins up to `index`. */
export const PaymentPartSchema = z.strictObject({
  chainId: ChainIdSchema,
  index: ChainIndexSchema.min(1),
  payword: PaywordSchema,
  /** P2P only: the customer carries the touchstone itself. */
  touchstone: TouchstoneSchema.optional(),
  /** P2P only: the last index signed for this chain, showing where the payer's spending stands. */
  lastIndex: IndexSchema.optional(),
  /**
   * P2P only: the payer's index at this part's own point (`index`, `payword`), handed to the payee: the
   * payee's evidence, at redemption, that the chain's owner paid it this far.
   */
  paidIndex: IndexSchema.optional(),
});
export type PaymentPart = z.infer<typeof PaymentPartSchema>;

export const PaymentSchema = z
  .strictObject({
    v: Version,
    parts: z.array(PaymentPartSchema).min(1).max(MAX_CHAINS_PER_PAYMENT),
  })
  .refine((p) => new Set(p.parts.map((c) => c.chainId)).size === p.parts.length, {
    message: 'a chain may appear only once in a payment',
    path: ['parts'],
  });
export type Payment = z.infer<typeof PaymentSchema>;

export const PayeeShareSchema = z.strictObject({
  payeeId: PartyIdSchema,
  /** Basis points of the amount (1–10,000). */
  share: z.number().int().min(1).max(SHARE_TOTAL),
});
export type PayeeShare = z.infer<typeof PayeeShareSchema>;

const sharesComplete = (payees: readonly PayeeShare[] | undefined) =>
  payees === undefined ||
  (payees.reduce((a, p) => a + p.share, 0) === SHARE_TOTAL &&
    new Set(payees.map((p) => p.payeeId)).size === payees.length);
function minorOrNull(s: string): bigint | null {
  return MINOR_WIRE_RE.test(s) ? BigInt(s) : null;
}

function payeeTotal(payees: readonly { amount: string }[]): bigint | null {
  let total = 0n;
  for (const p of payees) {
    const m = minorOrNull(p.amount);
    if (m === null) return null;
    total += m;
  }
  return total;
}

const PayeesSchema = z
  .array(PayeeShareSchema)
  .min(1)
  .max(MAX_PAYEES)
  .refine((p) => sharesComplete(p), 'shares must be distinct payees adding up to 10000 basis points');

/** What the vendor gives back for an accepted payment (signed only when the customer asks for it). */
export const ReceiptSchema = z
  .strictObject({
    v: Version,
    vendorId: PartyIdSchema,
    /** Idempotency handle of the paid request, if the client sent one. */
    requestId: z
      .string()
      .regex(/^[\x21-\x7e]{1,128}$/)
      .optional(),
    parts: z
      .array(
        z.strictObject({
          chainId: ChainIdSchema,
          index: ChainIndexSchema.min(1),
          coins: z.number().int().min(1).max(MAX_CHAIN_LENGTH),
        }),
      )
      .min(1)
      .max(MAX_CHAINS_PER_PAYMENT)
      .refine(
        (parts) => new Set(parts.map((p) => p.chainId)).size === parts.length,
        'a chain may appear only once',
      ),
    amount: MinorWireSchema.refine((s) => s !== '0', 'a receipt is for a positive amount'),
    currency: CurrencyCodeSchema,
    exponent: ExponentSchema,
    payees: z
      .array(
        z.strictObject({
          payeeId: PartyIdSchema,
          share: PayeeShareSchema.shape.share,
          amount: MinorWireSchema,
        }),
      )
      .min(1)
      .max(MAX_PAYEES)
      .refine((p) => sharesComplete(p), 'shares must be distinct payees adding up to 10000 basis points')
      .optional(),
    issuedAt: TimeSchema,
    sig: SignatureSchema.optional(),
  })
  .refine((r) => r.payees === undefined || payeeTotal(r.payees) === minorOrNull(r.amount), {
    message: 'payee amounts must add up to the amount',
    path: ['payees'],
  });
export type Receipt = z.infer<typeof ReceiptSchema>;

/** Sent by a vendor that met a chain held by another vendor, asking the holder to hand it over. */
export const HandoverRequestSchema = z.strictObject({
  v: Version,
  chainId: ChainIdSchema,
  holder: PartyIdSchema,
  requester: PartyIdSchema,
  nonce: NonceSchema,
  issuedAt: TimeSchema,
  sig: SignatureSchema,
});
export type HandoverRequest = z.infer<typeof HandoverRequestSchema>;

/** The holder's answer: it has stopped accepting the chain; `index` is signed over to the requester. */
export const HandoverResponseSchema = z.strictObject({
  v: Version,
  chainId: ChainIdSchema,
  nonce: NonceSchema,
  index: IndexSchema,
  sig: SignatureSchema,
});
export type HandoverResponse = z.infer<typeof HandoverResponseSchema>;

const ChainPointSchema = z.strictObject({ index: ChainIndexSchema, payword: PaywordSchema });

/** A vendor's claim to redeem the coins (from.index, to.index] of one chain. */
export const ClaimSchema = z
  .strictObject({
    v: Version,
    claimId: NonceSchema,
    vendorId: PartyIdSchema,
    chainId: ChainIdSchema,
    from: ChainPointSchema,
    to: ChainPointSchema,
    /** The index the previous holder signed over to this vendor, when the range does not start at 0. */
    startIndex: IndexSchema.optional(),
    /** P2P: the payer's signed index at or past `to`, handed to this vendor (a payment's `paidIndex`). */
    endIndex: IndexSchema.optional(),
    payees: PayeesSchema.optional(),
    issuedAt: TimeSchema,
    sig: SignatureSchema,
  })
  .refine((c) => c.to.index > c.from.index, { message: 'to.index must exceed from.index', path: ['to'] });
export type Claim = z.infer<typeof ClaimSchema>;

export const SCHEMAS = {
  touchstone: TouchstoneSchema,
  index: IndexSchema,
  payment: PaymentSchema,
  receipt: ReceiptSchema,
  'handover-request': HandoverRequestSchema,
  'handover-response': HandoverResponseSchema,
  claim: ClaimSchema,
} as const;
export type MessageKind = keyof typeof SCHEMAS;
export type MessageOf<K extends MessageKind> = z.infer<(typeof SCHEMAS)[K]>;

/** Validates an untrusted value as a message of `kind`. Never throws. */
export function decodeMessage<K extends MessageKind>(kind: K, input: unknown): Result<MessageOf<K>> {
  const parsed = SCHEMAS[kind].safeParse(input);
  if (parsed.success) return ok(parsed.data as MessageOf<K>);
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  return err('malformed', `${kind}${where}: ${issue?.message ?? 'invalid'}`);
}

/** Parses JSON text, then validates it. Never throws. */
export function decodeMessageJson<K extends MessageKind>(kind: K, text: string): Result<MessageOf<K>> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return err('malformed', `${kind}: not valid JSON`);
  }
  return decodeMessage(kind, value);
}
