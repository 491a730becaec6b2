/**
 * The terms of a priced resource (docs/protocol.md §9, `TermsSchema`) and the 402 that carries them:
 * every refusal of a payment carries fresh terms (body and `NetPay-Terms`), so the wallet can pay again.
 * The same terms go out for x402 clients too, as the `netpay` entry of a `PAYMENT-REQUIRED` header
 * (docs/x402.md), once the broker's id is known.
 */
import {
  encodeHeader,
  encodeX402Header,
  HEADERS,
  type Terms,
  termsToX402,
  X402_HEADERS,
  X402_VERSION,
} from '@netpay/protocol';
import type { GateContext } from '../deps.ts';
import { answer, type GateAnswer, type GateErrorCode } from '../errors.ts';
import { type GateRequest, type Price, resourceOf } from '../request.ts';

export function terms(ctx: GateContext, price: Price, req: GateRequest): Terms {
  const brokerKeys = ctx.keys.current();
  const walletBase = ctx.walletBase();
  return {
    v: 1,
    vendorId: ctx.vendorId,
    resource: resourceOf(req),
    price: price.amount.toString(),
    currency: ctx.cur.code,
    exponent: ctx.cur.exponent,
    brokers: [
      {
        url: ctx.brokerUrl,
        ...(brokerKeys.length > 0
          ? { brokerId: brokerKeys[0]!.brokerId, keyIds: brokerKeys.map((k) => k.keyId) }
          : {}),
      },
    ],
    ...(price.payees ? { payees: [...price.payees] } : {}),
    ...(price.description ? { description: price.description } : {}),
    ...(walletBase
      ? { wallet: { signIn: `${walletBase}/signin?return=${encodeURIComponent(req.url)}` } }
      : {}),
    pay: `send ${HEADERS.payment}: base64url(JSON payment) with coins worth exactly the price`,
  };
}

/** 402 (or the refusal `code`) with the terms in the body and in `NetPay-Terms`. */
export function paymentRequired(
  ctx: GateContext,
  price: Price,
  req: GateRequest,
  code: GateErrorCode = 'payment_required',
  message?: string,
): GateAnswer {
  const t = terms(ctx, price, req);
  const text = message ?? `this costs ${price.amount} minor units of ${ctx.cur.code}; pay with NetPay`;
  const x402 = x402Required(t, req, code, text);
  return answer(code, text, {
    headers: { [HEADERS.terms.toLowerCase()]: encodeHeader(t), ...(x402 ? { [X402_REQUIRED]: x402 } : {}) },
    terms: t,
  });
}

const X402_REQUIRED = X402_HEADERS.required.toLowerCase();

/** The `PAYMENT-REQUIRED` header for the terms (x402 v2, one `netpay` entry); none before the broker is known. */
function x402Required(t: Terms, req: GateRequest, code: string, message: string): string | undefined {
  const accepts = termsToX402(t);
  if (!accepts.ok) return undefined;
  const host = typeof req.headers.host === 'string' ? req.headers.host : undefined;
  return encodeX402Header({
    x402Version: X402_VERSION,
    ...(code === 'payment_required' ? {} : { error: `${code}: ${message}` }),
    resource: { url: host ? `http://${host}${req.url}` : req.url },
    accepts: [accepts.value],
  });
}

/** A refused payment with fresh terms added; server errors (5xx) get none. */
export function withTerms(ctx: GateContext, a: GateAnswer, price: Price, req: GateRequest): GateAnswer {
  if (a.body.terms !== undefined || a.status >= 500) return a;
  const fresh = paymentRequired(ctx, price, req, a.body.code as GateErrorCode, a.body.message);
  return { ...fresh, headers: { ...a.headers, ...fresh.headers } };
}
