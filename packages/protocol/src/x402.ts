/**
 * NetPay as an x402 v2 payment scheme, on the wire (issue 17): the mapping between NetPay terms and an x402
 * `PaymentRequirements` entry, the x402 payload that carries a NetPay payment, and the base64 JSON headers
 * of x402 v2 (`PAYMENT-REQUIRED`, `PAYMENT-SIGNATURE`, `PAYMENT-RESPONSE`). Pure, with no x402 import, so
 * the NetPay gate and `@netpay/x402` (the scheme inside the x402 SDK) share it.
 *
 *   scheme   "netpay"
 *   network  "netpay:<brokerId>": the broker whose touchstones the vendor accepts
 *   asset    the currency code ("USD"): `amount` is minor units of it, `extra.exponent` decimals
 *   amount   the price in minor units (a decimal string, as NetPay's `price`)
 *   payTo    the vendor id
 *   extra    { vendorId, resource, currency, exponent, brokers }: the terms a wallet needs to pay
 *   payload  { payment }: the NetPay payment (docs/protocol.md §6.4), as the `NetPay-Payment` header's JSON
 *   settle   `transaction` is the NetPay receipt, as the `NetPay-Receipt` header's value (base64url JSON)
 *
 * Every decoder validates with a schema and returns a Result: bad input never throws.
 */
import { z } from 'zod';
import { fromBase64url, toBase64url, utf8 } from './bytes.ts';
import { CurrencyCodeSchema, MinorWireSchema, PartyIdSchema, PaymentSchema } from './messages.ts';
import { err, ok, type Result } from './result.ts';
import { type Terms, TermsSchema } from './terms.ts';

export const X402_VERSION = 2;
export const X402_SCHEME = 'netpay';
/** The x402 v2 headers (standard base64 of UTF-8 JSON). */
export const X402_HEADERS = {
  /** Server → client on 402: `PaymentRequired`. */
  required: 'PAYMENT-REQUIRED',
  /** Client → server: `PaymentPayload`. */
  signature: 'PAYMENT-SIGNATURE',
  /** Server → client after settling (or failing to): `SettleResponse`. */
  response: 'PAYMENT-RESPONSE',
} as const;
/** Largest x402 header value accepted (base64 characters): a 402 may list several ways to pay. */
export const X402_MAX_HEADER_LENGTH = 64 * 1024;
/** Most entries one `accepts` list may hold. */
const MAX_ACCEPTS = 32;
/** Default time a NetPay requirement gives the client to pay (seconds), as x402's own default. */
export const X402_DEFAULT_TIMEOUT_SECONDS = 300;

export type X402Network = `${string}:${string}`;

/** The x402 network of a broker's coins: `netpay:<brokerId>`. */
export const x402Network = (brokerId: string): X402Network => `${X402_SCHEME}:${brokerId}`;

/** The broker id of a `netpay:<brokerId>` network; undefined for any other network. */
export function brokerIdOf(network: string): string | undefined {
  const prefix = `${X402_SCHEME}:`;
  if (!network.startsWith(prefix)) return undefined;
  const id = network.slice(prefix.length);
  return PartyIdSchema.safeParse(id).success ? id : undefined;
}

// ----- x402 v2 messages, as far as NetPay reads them (members it does not know are kept) -----

const Extra = z.record(z.string(), z.unknown());
/** Seconds a client has to pay (x402 `maxTimeoutSeconds`). */
const TimeoutSchema = z
  .number()
  .int()
  .positive()
  .max(2 ** 31 - 1);
const X402NetworkSchema = z
  .string()
  .min(3)
  .max(256)
  .regex(/^[^:]+:.+$/, 'must be a CAIP-2 style id, namespace:reference');

/** One way to pay (x402 v2 `PaymentRequirements`), of any scheme. */
export const X402RequirementsSchema = z.looseObject({
  scheme: z.string().min(1).max(64),
  network: X402NetworkSchema,
  asset: z.string().min(1).max(256),
  amount: z.string().min(1).max(100),
  payTo: z.string().min(1).max(256),
  maxTimeoutSeconds: TimeoutSchema,
  extra: Extra,
});
export type X402Requirements = z.infer<typeof X402RequirementsSchema>;

export const X402ResourceInfoSchema = z.looseObject({
  url: z.string().min(1).max(8192),
  description: z.string().max(4096).optional(),
  mimeType: z.string().max(256).optional(),
});

/** The `PAYMENT-REQUIRED` header's content. */
export const X402PaymentRequiredSchema = z.looseObject({
  x402Version: z.literal(X402_VERSION),
  error: z.string().max(4096).optional(),
  resource: X402ResourceInfoSchema,
  accepts: z.array(X402RequirementsSchema).min(1).max(MAX_ACCEPTS),
  extensions: Extra.optional(),
});
export type X402PaymentRequired = z.infer<typeof X402PaymentRequiredSchema>;

/** The `PAYMENT-SIGNATURE` header's content: the chosen requirement and the scheme's payload. */
export const X402PaymentPayloadSchema = z.looseObject({
  x402Version: z.literal(X402_VERSION),
  resource: X402ResourceInfoSchema.optional(),
  accepted: X402RequirementsSchema,
  payload: Extra,
  extensions: Extra.optional(),
});
export type X402PaymentPayload = z.infer<typeof X402PaymentPayloadSchema>;

/** The `PAYMENT-RESPONSE` header's content. */
export const X402SettleResponseSchema = z.looseObject({
  success: z.boolean(),
  errorReason: z.string().max(256).optional(),
  errorMessage: z.string().max(4096).optional(),
  payer: z.string().max(256).optional(),
  transaction: z.string().max(X402_MAX_HEADER_LENGTH),
  network: X402NetworkSchema,
  amount: z.string().max(100).optional(),
  extra: Extra.optional(),
});
export type X402SettleResponse = z.infer<typeof X402SettleResponseSchema>;

// ----- NetPay's entry -----

/** What a wallet needs of the terms to pay, in a NetPay requirement's `extra`. */
export const NetpayExtraSchema = z.looseObject(
  TermsSchema.pick({ vendorId: true, resource: true, currency: true, exponent: true, brokers: true }).shape,
);
export type NetpayExtra = z.infer<typeof NetpayExtraSchema>;

/** A NetPay requirement: x402's shape with NetPay's rules, consistent with its `extra`. */
export const NetpayRequirementsSchema = z
  .looseObject({
    scheme: z.literal(X402_SCHEME),
    network: z.string().refine((n) => brokerIdOf(n) !== undefined, 'must be netpay:<brokerId>'),
    asset: CurrencyCodeSchema,
    amount: MinorWireSchema.refine((a) => a !== '0', 'must be a positive amount'),
    payTo: PartyIdSchema,
    maxTimeoutSeconds: TimeoutSchema,
    extra: NetpayExtraSchema,
  })
  .refine((r) => r.asset === r.extra.currency, { message: 'asset must be extra.currency', path: ['asset'] })
  .refine((r) => r.payTo === r.extra.vendorId, { message: 'payTo must be extra.vendorId', path: ['payTo'] })
  .refine((r) => r.extra.brokers.some((b) => b.brokerId === brokerIdOf(r.network)), {
    message: "the network's broker must be one of extra.brokers",
    path: ['network'],
  });
export type NetpayRequirements = z.infer<typeof NetpayRequirementsSchema>;

/** A NetPay payload: the payment and nothing else. */
export const NetpayPayloadSchema = z.strictObject({ payment: PaymentSchema });
export type NetpayPayload = z.infer<typeof NetpayPayloadSchema>;

/** A schema's verdict as a Result: `malformed` with the first issue, as decodeMessage words it. */
function parse<T>(schema: z.ZodType<T>, what: string, input: unknown): Result<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return ok(parsed.data);
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  return err('malformed', `${what}${where}: ${issue?.message ?? 'invalid'}`);
}

/**
 * The x402 requirement for NetPay terms: paid on the network of the first broker the terms name with its
 * id. Terms whose brokers carry no id yet (the vendor has not reached its broker) cannot be offered.
 */
export function termsToX402(
  terms: Terms,
  maxTimeoutSeconds = X402_DEFAULT_TIMEOUT_SECONDS,
): Result<NetpayRequirements> {
  const t = parse(TermsSchema, 'terms', terms);
  if (!t.ok) return t;
  const brokerId = t.value.brokers.find((b) => b.brokerId !== undefined)?.brokerId;
  if (brokerId === undefined) return err('malformed', 'terms: no broker id is known yet');
  const { vendorId, resource, currency, exponent, brokers } = t.value;
  return parse(NetpayRequirementsSchema, 'netpay requirements', {
    scheme: X402_SCHEME,
    network: x402Network(brokerId),
    asset: currency,
    amount: t.value.price,
    payTo: vendorId,
    maxTimeoutSeconds,
    extra: { vendorId, resource, currency, exponent, brokers },
  });
}

/** The NetPay terms of an x402 requirement (from a 402 or a payload's `accepted`), checked. */
export function x402ToTerms(requirements: unknown): Result<Terms> {
  const r = parse(NetpayRequirementsSchema, 'netpay requirements', requirements);
  if (!r.ok) return r;
  const { vendorId, resource, currency, exponent, brokers } = r.value.extra;
  return ok({ v: 1, vendorId, resource, price: r.value.amount, currency, exponent, brokers });
}

/** The NetPay payment in an x402 payload (`PaymentPayload.payload`), checked. */
export const netpayPaymentOf = (payload: unknown): Result<NetpayPayload['payment']> => {
  const p = parse(NetpayPayloadSchema, 'netpay payload', payload);
  return p.ok ? ok(p.value.payment) : p;
};

// ----- the headers: standard base64 (with padding) of UTF-8 JSON -----

const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const decoder = new TextDecoder('utf-8', { fatal: true });

/** An x402 header value: standard base64 (not url-safe, padded) of the value's JSON in UTF-8. */
export function encodeX402Header(value: unknown): string {
  const url = toBase64url(utf8(JSON.stringify(value)));
  return url.replaceAll('-', '+').replaceAll('_', '/') + '='.repeat((4 - (url.length % 4)) % 4);
}

export const X402_SCHEMAS = {
  'payment-required': X402PaymentRequiredSchema,
  'payment-signature': X402PaymentPayloadSchema,
  'payment-response': X402SettleResponseSchema,
} as const;
export type X402HeaderKind = keyof typeof X402_SCHEMAS;
export type X402HeaderOf<K extends X402HeaderKind> = z.infer<(typeof X402_SCHEMAS)[K]>;

/** Decodes and validates an x402 header value. Never throws. */
export function decodeX402Header<K extends X402HeaderKind>(
  kind: K,
  value: string | undefined | null,
): Result<X402HeaderOf<K>> {
  if (typeof value !== 'string' || value.length === 0) return err('malformed', `${kind} header is missing`);
  if (value.length > X402_MAX_HEADER_LENGTH)
    return err('malformed', `${kind} header is longer than ${X402_MAX_HEADER_LENGTH}`);
  const text = value.trim();
  const bytes =
    text.length % 4 === 0 && B64_RE.test(text)
      ? fromBase64url(text.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_'))
      : undefined;
  if (!bytes) return err('malformed', `${kind} header is not base64`);
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes));
  } catch {
    return err('malformed', `${kind} header is not UTF-8 JSON`);
  }
  return parse(X402_SCHEMAS[kind] as unknown as z.ZodType<X402HeaderOf<K>>, kind, json);
}
