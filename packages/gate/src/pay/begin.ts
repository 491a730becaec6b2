/**
 * The first half of a paid request (docs/protocol.md §6, §9): read the `NetPay-Payment` header, hold each
 * chain it spends from (pay/../chains/acquire.ts), check its coins with one hash step each, and reserve
 * them under the chain's lock until `finish` commits or releases them. No header: the server-side wallet
 * (its cookie) or a 402 with the terms. Every refusal carries fresh terms.
 */
import {
  bytesEqual,
  type ChainStep,
  chainStepper,
  decodeX402Header,
  err,
  fromBase64url,
  HEADERS,
  netpayPaymentOf,
  type Payment,
  type PaymentPart,
  type Receipt,
  type Result,
  verifyPayment,
  walletCookieName,
  X402_HEADERS,
  X402_SCHEME,
} from '@netpay/protocol';
import { acquire } from '../chains/acquire.ts';
import { acquireOffline } from '../chains/offline.ts';
import type { GateContext } from '../deps.ts';
import { type GateAnswer, isAnswer } from '../errors.ts';
import { cookie, type GateRequest, header, type Price, resourceOf } from '../request.ts';
import { chargeWallet } from '../server-wallet/charge.ts';
import type { HeldChain } from '../store/store.ts';
import { createPayeeCheck, payeesJson } from './payees.ts';
import { makeReceipt } from './receipt.ts';
import { paymentRequired, withTerms } from './terms.ts';
import type { Begun, ChainAdvance } from './ticket.ts';
import { readPaymentHeader } from './wire.ts';

/** Refusals a stale cache could cause (another instance advanced the chain): worth one reload. */
const RELOAD_ON = new Set<string>([
  'payword_invalid',
  'index_not_advancing',
  'overpayment',
  'insufficient_payment',
  'payment_conflict',
]);

/** One payment being checked: what `evaluate` works on. */
interface Paying {
  readonly ctx: GateContext;
  readonly req: GateRequest;
  readonly price: Price;
  readonly parts: readonly PaymentPart[];
  readonly steps: Map<string, ChainStep>;
  readonly release: () => void;
}

export function createBegin(ctx: GateContext) {
  /** Each chain's hash step, built once (it binds the chain id). */
  const steps = new Map<string, ChainStep>();
  const checkPayees = createPayeeCheck(ctx);
  return async function begin(req: GateRequest, price: Price): Promise<Begun> {
    if (ctx.keys.list().length === 0) await ctx.keys.warmUp(500);
    // HEAD shows the terms and is never charged.
    if (req.method === 'HEAD') return { answer: paymentRequired(ctx, price, req) };
    const sent = header(req, HEADERS.payment);
    const x402 = sent === undefined ? header(req, X402_SIGNATURE) : undefined;
    if (sent === undefined && x402 === undefined) return unpaid(ctx, req, price);
    const decoded = sent !== undefined ? readPaymentHeader(sent) : readX402Payment(x402);
    if (!decoded.ok) return { answer: paymentRequired(ctx, price, req, 'malformed', decoded.error.message) };
    if (price.payees) {
      const refused = await checkPayees(price.payees);
      if (refused) return { answer: refused };
    }
    const parts = decoded.value.parts;
    const release = await ctx.lock(parts.map((p) => p.chainId));
    try {
      const paying: Paying = { ctx, req, price, parts, steps, release };
      // Another instance over the same database may have advanced a chain: on a refusal that a stale
      // cache could explain, reload the chains and look once more.
      let result = await evaluate(paying, false);
      if ('answer' in result && RELOAD_ON.has(result.answer.body.code)) result = await evaluate(paying, true);
      if ('answer' in result) {
        release();
        return { answer: withTerms(ctx, result.answer, price, req) };
      }
      return x402 === undefined || !('ticket' in result) || result.ticket.wallet
        ? result
        : { ticket: { ...result.ticket, x402: true } };
    } catch (e) {
      release();
      throw e;
    }
  };
}

const X402_SIGNATURE = X402_HEADERS.signature.toLowerCase();

/** The NetPay payment in an x402 `PAYMENT-SIGNATURE` header (docs/x402.md), or why there is none. */
function readX402Payment(value: string | undefined): Result<Payment> {
  const payload = decodeX402Header('payment-signature', value);
  if (!payload.ok) return payload;
  if (payload.value.accepted.scheme !== X402_SCHEME)
    return err(
      'malformed',
      `this vendor takes the ${X402_SCHEME} x402 scheme, not ${payload.value.accepted.scheme}`,
    );
  return netpayPaymentOf(payload.value.payload);
}

/** A request without coins: paid from the server-side wallet when its cookie is there, else a 402. */
function unpaid(ctx: GateContext, req: GateRequest, price: Price): Promise<Begun> | Begun {
  const token = ctx.walletBase() ? cookie(req.headers, walletCookieName(ctx.vendorId)) : undefined;
  return token ? chargeWallet(ctx, token, price, req) : { answer: paymentRequired(ctx, price, req) };
}

/** The payment checked against the chains as held (reloaded first when `fresh`): a ticket, or a refusal. */
async function evaluate(p: Paying, fresh: boolean): Promise<Begun> {
  const { ctx, req, price, parts } = p;
  const now = Math.floor(ctx.clock() / 1000);
  const checked = await advanceAll(p, fresh, now);
  if (isAnswer(checked)) return { answer: checked };
  const { advances, total, replays } = checked;
  const refuse = (code: 'payment_conflict' | 'insufficient_payment' | 'overpayment', message: string) => ({
    answer: paymentRequired(ctx, price, req, code, message),
  });
  if (replays === parts.length) {
    const replay = await replayed(p, now);
    if (replay) return replay;
  }
  if (replays > 0) return refuse('payment_conflict', 'some of these coins were already spent here');
  if (total < price.amount)
    return refuse('insufficient_payment', `paid ${total}, the price is ${price.amount}`);
  const most = price.upTo ?? price.amount;
  if (total > most)
    return refuse(
      'overpayment',
      most === price.amount
        ? `paid ${total}, more than the price ${price.amount}; pay exactly`
        : `paid ${total}, more than the ${most} this request may pay`,
    );
  const receipt = makeReceipt(ctx, req, price, advances, total, now);
  const payees = payeesJson(price);
  const resource = resourceOf(req);
  return {
    ticket: { advances, receipt, resource, replay: false, release: p.release, ...(payees ? { payees } : {}) },
  };
}

/**
 * Each part checked against its chain: its coins' worth and the chain's advance, or the first refusal. A
 * part that repeats the chain's last accepted coin exactly is counted as a replay, not checked again.
 */
async function advanceAll(
  p: Paying,
  fresh: boolean,
  now: number,
): Promise<{ advances: ChainAdvance[]; total: bigint; replays: number } | GateAnswer> {
  const { ctx, req, price } = p;
  const refuse = (code: Parameters<typeof paymentRequired>[3], message: string) =>
    paymentRequired(ctx, price, req, code, message);
  const advances: ChainAdvance[] = [];
  let total = 0n;
  let replays = 0;
  for (const part of p.parts) {
    if (fresh) await ctx.store.reload(part.chainId);
    // The usual case, without a promise: the chain held here under a valid lease, as cached.
    const cached = ctx.store.peek(part.chainId);
    // A part that repeats the last coin accepted here accepts nothing new, so it needs no lease: a retry
    // whose answer was lost is answered (or refused by `replayed`) without the broker, which may be out of
    // reach now although it was not when the coins were taken.
    if (cached && repeatsLast(part, cached)) {
      replays++;
      continue;
    }
    const chain =
      cached?.status === 'held' && ctx.store.leaseValid(part.chainId, ctx.clock())
        ? cached
        : ctx.frozenPeers
          ? await acquireOffline(ctx, ctx.frozenPeers, part, refuse)
          : await acquire(ctx, part.chainId, refuse);
    if (isAnswer(chain)) return chain;
    const t = chain.touchstone;
    if (t.currency !== ctx.cur.code || t.exponent !== ctx.cur.exponent)
      return refuse(
        'currency_mismatch',
        `coins of ${t.currency}/${t.exponent} cannot pay a ${ctx.cur.code} price`,
      );
    if (repeatsLast(part, chain)) {
      replays++;
      continue;
    }
    const state = { chainId: chain.chainId, index: chain.acceptedIndex, payword: chain.acceptedPayword };
    const step = stepOf(p.steps, part.chainId);
    const verified = verifyPayment(state, part, t, now, { maxCoins: ctx.maxCoins, step });
    if (!verified.ok) return refuse(verified.error.code, verified.error.message);
    total += verified.value.amount;
    advances.push({
      chain,
      fromIndex: chain.acceptedIndex,
      fromPayword: chain.acceptedPayword,
      toIndex: part.index,
      payword: verified.value.state.payword,
      ...(ctx.frozenPeers && part.paidIndex ? { evidence: part.paidIndex } : {}),
    });
  }
  return { advances, total, replays };
}

/** Whether a part names exactly the last coin this vendor accepted on its chain. */
function repeatsLast(part: PaymentPart, chain: HeldChain): boolean {
  return (
    part.index === chain.acceptedIndex && bytesEqual(fromBase64url(part.payword)!, chain.acceptedPayword)
  );
}

function stepOf(steps: Map<string, ChainStep>, chainId: string): ChainStep {
  let step = steps.get(chainId);
  if (!step) {
    step = chainStepper(fromBase64url(chainId)!);
    steps.set(chainId, step);
  }
  return step;
}

/**
 * The same payment for the same resource at the same price, accepted here at most `replayWindowSeconds`
 * ago: served again, charged nothing (a retry whose answer was lost). Later it is a payment_conflict.
 */
async function replayed(p: Paying, now: number): Promise<Begun | undefined> {
  const first = p.parts[0]!;
  const stored = (await p.ctx.store.receipt(first.chainId, first.index)) as
    | { receipt: Receipt; resource: string }
    | undefined;
  const resource = resourceOf(p.req);
  if (!stored || stored.resource !== resource || stored.receipt.amount !== p.price.amount.toString())
    return undefined;
  const age = now - stored.receipt.issuedAt;
  if (age > p.ctx.replayWindowSeconds) {
    const message = `this payment was accepted ${age} s ago; it is answered again only within ${p.ctx.replayWindowSeconds} s`;
    return { answer: paymentRequired(p.ctx, p.price, p.req, 'payment_conflict', message) };
  }
  return { ticket: { advances: [], receipt: stored.receipt, resource, replay: true, release: p.release } };
}
