/**
 * Reading a vendor's answers, as payFetch and recoverPayments both do: the terms of a 402, the receipt of a
 * paid request (a receipt means the coins were taken, whatever the status), the code of a refusal, and
 * "cannot reach" when nothing answered.
 */
import {
  decodeHeader,
  HEADERS,
  NetPayError,
  PROTOCOL_ERROR_CODES,
  type Receipt,
  type Terms,
  TermsSchema,
} from '@netpay/protocol';

/**
 * What a NetPay vendor refuses coins with when it checked them and took nothing: the protocol's checks of
 * the coins, and the gate's own. Only these give a payment's coins back.
 */
export const NOT_TAKEN: ReadonlySet<string> = new Set<string>([
  ...PROTOCOL_ERROR_CODES.filter((c) => c !== 'index_not_advancing'),
  'insufficient_payment',
  'overpayment',
  'chain_unknown',
  'chain_refunded',
]);
/**
 * What a vendor answers coins it has already (all or some of them): taken by an earlier copy of this
 * payment whose answer was lost, or by another instance. They are spent there; given back, they would be
 * spent twice (and the customer charged back).
 */
export const TAKEN_HERE: ReadonlySet<string> = new Set(['index_not_advancing', 'payment_conflict']);
/** A vendor that could not check the coins this time: the same payment may be sent again. */
export const TRY_AGAIN: ReadonlySet<string> = new Set([
  'chain_busy',
  'chain_not_held',
  'lease_lost',
  'broker_unavailable',
]);

/** The JSON body of an answer ({} when it has none), read from a clone so the caller still has the body. */
export async function bodyOf(res: Response): Promise<Record<string, unknown>> {
  const body: unknown = await res
    .clone()
    .json()
    .catch(() => undefined);
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}

/** The NetPay terms of a 402 answer; undefined for a 402 that is not NetPay's. */
export async function termsOf(res: Response): Promise<Terms | undefined> {
  const parsed = TermsSchema.safeParse((await bodyOf(res)).terms);
  return parsed.success ? parsed.data : undefined;
}

/** The receipt of an answer to a paid request, decoded (kept as it came if it does not decode). */
export function receiptOf(res: Response): { readonly kept: unknown; readonly decoded?: Receipt } | undefined {
  const header = res.headers.get(HEADERS.receipt);
  if (!header) return undefined;
  const decoded = decodeHeader('receipt', header);
  return decoded.ok ? { kept: decoded.value, decoded: decoded.value } : { kept: header };
}

/** Why a vendor refused a payment: the code of its answer, or `http_<status>`. */
export async function refusalCode(res: Response): Promise<string> {
  const { code } = await bodyOf(res);
  return typeof code === 'string' ? code : `http_${res.status}`;
}

/** `fetch`, with "nothing answered" said in the wallet's terms: which shop could not be reached. */
export async function fetchVendor(base: typeof fetch, url: string, init?: RequestInit): Promise<Response> {
  try {
    return await base(url, init);
  } catch (e) {
    throw new NetPayError(
      'vendor_unreachable',
      `cannot reach ${new URL(url).origin}: ${(e as Error).message}`,
    );
  }
}

/** The request init with one header set (the others kept). */
export function withHeader(init: RequestInit | undefined, name: string, value: string): RequestInit {
  const headers = new Headers(init?.headers);
  headers.set(name, value);
  return { ...init, headers };
}
