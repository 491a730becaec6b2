/**
 * Settling payments a crash (or a closed tab, or a dropped connection) left in flight, by sending each
 * again exactly as it went: a `NetPay-Payment` header, or (paid through x402) the same `PAYMENT-SIGNATURE`.
 */
import { decodeHeader, decodeX402Header, HEADERS, X402_HEADERS } from '@netpay/protocol';
import type { Wallet } from '../wallet.ts';
import { bodyOf, NOT_TAKEN, receiptOf, TRY_AGAIN } from './answer.ts';

type Unsettled = ReturnType<Wallet['unsettled']>[number];
type Outcome = 'accepted' | 'refused' | 'spent' | 'unreachable';

/**
 * Settles payments left in flight by a crash: each is sent again exactly as it was (same paywords, same
 * resource). A vendor that had accepted it answers with the same receipt and charges nothing (within its
 * replay window, docs/protocol.md §7.4; later it answers `payment_conflict`, and the payment is marked
 * spent without a receipt); one that never saw it accepts it now; a refusal of the coins themselves gives
 * them back (`settleByCode`). Payments whose vendor cannot be reached, or could not check the coins this
 * time, stay in flight (their chains unused) until the next call.
 *
 * A payment made through x402 (`@netpay/x402`) is sent again as it went, in the same `PAYMENT-SIGNATURE`,
 * and settled by the safe rule: its coins go back only when the answer proves the vendor did not take them
 * (a settlement that failed, or a refusal of the coins themselves). x402 refuses a payment it already
 * settled (`payment_conflict`), and an answer that tells nothing cannot be told apart from that: such a
 * payment is marked spent without a receipt (`spent`: lost to the customer at worst, never spent twice)
 * rather than keeping its chains out of every later payment. So is one that cannot be sent again exactly
 * (no URL or header was written down, or not a GET), and, with `giveUpAfterMs`, one whose vendor has not
 * been reachable for that long.
 */
export async function recoverPayments(
  wallet: Wallet,
  options: {
    fetch?: typeof fetch;
    /**
     * Only payments made this long ago or more: where other instances (browser tabs) share the wallet, a
     * younger one may still be waiting for its answer there.
     */
    olderThanMs?: number;
    /** An x402 payment this old whose vendor still cannot be reached is marked spent (default: never). */
    giveUpAfterMs?: number;
  } = {},
) {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = Date.now();
  const before = now - (options.olderThanMs ?? 0);
  const out = { resent: 0, accepted: 0, refused: 0, unreachable: 0, kept: 0, spent: 0 };
  for (const p of wallet.unsettled()) {
    if (Date.parse(p.at) > before) continue;
    if (p.x402) {
      const overdue = options.giveUpAfterMs !== undefined && Date.parse(p.at) <= now - options.giveUpAfterMs;
      const outcome = await recoverX402(wallet, p, fetchImpl, overdue);
      if (outcome.resent) out.resent++;
      out[outcome.outcome]++;
      continue;
    }
    if (!p.url || !p.header) continue;
    // The same request as it went: a POST is sent again with its body. One that was not kept (not a plain
    // GET, body too big to keep) is left in flight rather than asked for with another request.
    const method = p.request?.method ?? p.resource.split(' ')[0] ?? 'GET';
    if (!p.request && method !== 'GET' && method !== 'HEAD') {
      out.kept++;
      continue;
    }
    out.resent++;
    let res: Response;
    try {
      res = await fetchImpl(p.url, {
        method,
        headers: [...(p.request?.headers ?? []), [HEADERS.payment, p.header]],
        ...(p.request?.body === undefined ? {} : { body: p.request.body }),
        redirect: 'error',
      });
    } catch {
      out.unreachable++;
      continue;
    }
    out[await settleResent(wallet, p.id, res)]++;
    await res.body?.cancel().catch(() => {});
  }
  return out;
}

/** What a payment sent again comes to: taken (a receipt), refused (no receipt, not a 5xx), or still unknown. */
async function settleResent(wallet: Wallet, id: string, res: Response) {
  const receipt = receiptOf(res);
  if (receipt) {
    // Taken, whatever the status (the handler may fail this time; the coins were accepted).
    await wallet.settle(id, { accepted: true, receipt: receipt.kept });
    return 'accepted' as const;
  }
  if (res.status >= 500) return 'unreachable' as const;
  return settleByCode(wallet, id, (await bodyOf(res)).code, res.status);
}

/**
 * A payment sent again and answered without a receipt, by the safe rule: its coins go back only when the
 * code proves the vendor checked them and took nothing; a vendor that could not check them leaves it in
 * flight; anything else (`payment_conflict` or `index_not_advancing`: taken already, or an answer that
 * proves nothing) marks it spent without a receipt: lost to the customer at worst, never spent twice.
 */
async function settleByCode(wallet: Wallet, id: string, code: unknown, status: number): Promise<Outcome> {
  if (typeof code === 'string' && NOT_TAKEN.has(code)) {
    await wallet.settle(id, { accepted: false, code });
    return 'refused';
  }
  if (typeof code === 'string' && TRY_AGAIN.has(code)) return 'unreachable';
  await wallet.settle(id, {
    accepted: true,
    code: typeof code === 'string' ? code.slice(0, 256) : `http_${status}`,
  });
  return 'spent';
}

/** An x402 payment sent again in the `PAYMENT-SIGNATURE` it went out with, and settled by the safe rule. */
async function recoverX402(
  wallet: Wallet,
  p: Unsettled,
  fetchImpl: typeof fetch,
  overdue: boolean,
): Promise<{ resent: boolean; outcome: Outcome }> {
  const spent = async (code: string) => {
    await wallet.settle(p.id, { accepted: true, code });
    return 'spent' as const;
  };
  const method = (p.resource.split(' ')[0] ?? 'GET').toUpperCase();
  // Not sent again with another request (x402 kept no body): unknown whether it was taken.
  if (!p.url || !p.x402?.signature || (method !== 'GET' && method !== 'HEAD'))
    return { resent: false, outcome: await spent('x402_not_resent') };
  let res: Response;
  try {
    res = await fetchImpl(p.url, {
      method,
      headers: [[X402_HEADERS.signature, p.x402.signature]],
      redirect: 'error',
    });
  } catch {
    return { resent: true, outcome: overdue ? await spent('x402_unreachable') : 'unreachable' };
  }
  try {
    const outcome = await settleX402(wallet, p.id, res);
    return {
      resent: true,
      outcome: outcome === 'unreachable' && overdue ? await spent('x402_unreachable') : outcome,
    };
  } finally {
    await res.body?.cancel().catch(() => {});
  }
}

/** What an x402 payment sent again comes to, by what the answer proves. */
async function settleX402(wallet: Wallet, id: string, res: Response): Promise<Outcome> {
  // A NetPay gate (which takes PAYMENT-SIGNATURE too) answers a retry of a payment it took with its receipt.
  const netpay = receiptOf(res);
  if (netpay) {
    await wallet.settle(id, { accepted: true, receipt: netpay.kept });
    return 'accepted';
  }
  const settled = decodeX402Header('payment-response', res.headers.get(X402_HEADERS.response));
  if (settled.ok && settled.value.success) {
    const receipt = decodeHeader('receipt', settled.value.transaction);
    await wallet.settle(id, {
      accepted: true,
      receipt: receipt.ok ? receipt.value : settled.value.transaction,
    });
    return 'accepted';
  }
  if (settled.ok) {
    // Verified now (so never taken before: a taken payment is refused at verify) and not committed.
    await wallet.settle(id, { accepted: false, code: settled.value.errorReason ?? 'settle_failed' });
    return 'refused';
  }
  if (res.status >= 500) return 'unreachable';
  const required = decodeX402Header('payment-required', res.headers.get(X402_HEADERS.required));
  const code = required.ok ? required.value.error : (await bodyOf(res)).code;
  return settleByCode(wallet, id, code, res.status);
}
