/**
 * Paying from the customer's server-side wallet at the broker instead of with coins (docs/broker.md §8):
 * the broker enforces the customer's cap. A charge carries the vendor's own id and one idempotency key,
 * resent while the answer is lost; a charge whose answer never came, or whose response failed, is voided
 * by that id, so nobody pays for nothing. A void that cannot be done now is left to the redeemer's rounds.
 */
import { isNetPayError, randomBytes, toBase64url, walletCookieName } from '@netpay/protocol';
import { refusedByBroker, type WalletCharge } from '../broker-client.ts';
import type { GateContext } from '../deps.ts';
import { answer, type GateAnswer } from '../errors.ts';
import { payeesJson } from '../pay/payees.ts';
import { paymentRequired } from '../pay/terms.ts';
import type { Begun } from '../pay/ticket.ts';
import { type GateRequest, type Price, resourceOf } from '../request.ts';

export const WALLET_RECEIPT_HEADER = 'NetPay-Wallet-Receipt';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function chargeWallet(
  ctx: GateContext,
  token: string,
  price: Price,
  req: GateRequest,
): Promise<Begun> {
  const chargeId = toBase64url(randomBytes(16));
  const key = `charge-${chargeId}`;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await sleep(100 * 3 ** (attempt - 1));
    try {
      const charge = await ctx.broker.walletCharge({
        token,
        amount: price.amount,
        resource: resourceOf(req),
        chargeId,
        key,
        ...(price.payees ? { payees: price.payees } : {}),
      });
      const payees = payeesJson(price);
      return { ticket: { wallet: charge, release: () => {}, ...(payees ? { payees } : {}) } };
    } catch (e) {
      lastError = e;
      if (refusedByBroker(e)) break;
    }
  }
  if (!refusedByBroker(lastError)) {
    // Made or not (the answer was lost): void it. A 404 says it was never made; an outage leaves it to
    // the redeemer's rounds.
    await ctx.broker
      .walletVoid(chargeId)
      .catch((v) => voidNotDone(ctx, chargeId, price.amount, v).catch(() => {}));
    return {
      answer: answer('broker_unavailable', 'the broker cannot be reached to charge your wallet; try again'),
    };
  }
  return { answer: chargeRefused(ctx, lastError, price, req) };
}

/** The broker's refusal of a charge, in the gate's codes (with terms, so the customer can pay otherwise). */
function chargeRefused(
  ctx: GateContext,
  e: { code: string; message: string },
  price: Price,
  req: GateRequest,
): GateAnswer {
  if (e.code === 'spending_limit') return paymentRequired(ctx, price, req, 'spending_limit', e.message);
  if (e.code === 'insufficient_funds')
    return paymentRequired(ctx, price, req, 'wallet_insufficient_funds', e.message);
  if (e.code === 'grant_invalid' || e.code === 'grant_revoked') {
    // The grant is gone (withdrawn, or the token is stale): forget it and ask to sign in again.
    const asked = paymentRequired(
      ctx,
      price,
      req,
      'payment_required',
      `${e.message}; sign in to your wallet again`,
    );
    const forget = `${walletCookieName(ctx.vendorId)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`;
    return { ...asked, headers: { ...asked.headers, 'set-cookie': forget } };
  }
  return answer('wallet_refused', `the broker refused the charge: ${e.message}`);
}

/**
 * What a void the broker did not confirm leaves behind: nothing for a charge it never made, a pending
 * void for the redeemer's rounds after an outage, a refused one (owed to the customer) otherwise.
 */
function voidNotDone(ctx: GateContext, chargeId: string, amount: bigint, e: unknown): Promise<void> {
  if (isNetPayError(e, 'not_found')) return Promise.resolve();
  return ctx.store.voidLater(chargeId, amount, refusedByBroker(e) ? 'void_refused' : 'void_pending');
}

/** A wallet charge whose response succeeded gets a receipt header; one whose response failed is voided. */
export async function finishWallet(
  ctx: GateContext,
  charge: WalletCharge,
  succeeded: boolean,
  payees: string | undefined,
): Promise<{ headers: Record<string, string> }> {
  if (!succeeded) {
    await voidCharge(ctx, charge);
    return { headers: {} };
  }
  // For the dashboard; the charge stands whether or not this is written.
  await ctx.store
    .keepWalletCharge({
      chargeId: charge.chargeId,
      amount: BigInt(charge.amount),
      ...(payees ? { payees } : {}),
    })
    .catch(() => {});
  const receipt = {
    v: 1,
    vendorId: ctx.vendorId,
    chargeId: charge.chargeId,
    amount: charge.amount,
    currency: ctx.cur.code,
    exponent: ctx.cur.exponent,
    cap: charge.cap,
    period: charge.period,
    remaining: charge.remaining,
  };
  const encoded = Buffer.from(JSON.stringify(receipt)).toString('base64url');
  return { headers: { [WALLET_RECEIPT_HEADER.toLowerCase()]: encoded } };
}

/**
 * Voids a charge whose response failed. A refusal will not change (kept on record as owed); an outage
 * may: a few tries, then the redeemer's rounds go on trying.
 */
async function voidCharge(ctx: GateContext, charge: WalletCharge): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await ctx.broker.walletVoid(charge.chargeId);
      return;
    } catch (e) {
      if (refusedByBroker(e))
        return voidNotDone(ctx, charge.chargeId, BigInt(charge.amount), e).catch(() => {});
      if (attempt >= 2) return voidNotDone(ctx, charge.chargeId, BigInt(charge.amount), e);
      await sleep(100 * 2 ** attempt);
    }
  }
}
