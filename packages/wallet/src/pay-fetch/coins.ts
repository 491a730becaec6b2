/**
 * Paying a request with coins: the payment is written down first (with what is needed to send the same
 * request again after a lost answer), sent with the request, and settled by the vendor's answer: a receipt
 * means the coins were taken, a refusal of the coins gives them back, a refusal saying the vendor has them
 * already (`payment_conflict`, `index_not_advancing`) marks them spent, and no answer or a 5xx that is not
 * the gate's own refusal (a gateway's 502 or 504) leaves the payment in flight for `recoverPayments`. With `signedReceipts`, the receipt's signature
 * is checked with the vendor's key from the broker.
 */
import { fromBase64url, HEADERS, type Receipt, type Terms, verifyMessageSignature } from '@netpay/protocol';
import { KeptRequestSchema, type PaymentRecord } from '../state.ts';
import type { Wallet } from '../wallet.ts';
import { fetchVendor, receiptOf, refusalCode, TAKEN_HERE, TRY_AGAIN, termsOf, withHeader } from './answer.ts';
import { type Payer, type PayFetchOptions, paymentDeclined } from './options.ts';
import { vendorLimit } from './policy.ts';

/** The gate's 5xx answers that say the coins were not taken (docs/protocol.md §10). */
const GATE_TOOK_NOTHING = new Set(['broker_unavailable', 'payee_unknown']);

export function coinPayer(wallet: Wallet, base: typeof fetch, options: PayFetchOptions): Payer {
  const signature = receiptSignatures(wallet);
  return async (url, init, terms) => {
    const resource = `${(init?.method ?? 'GET').toUpperCase()} ${new URL(url).pathname}${new URL(url).search}`;
    const payment = await wallet.pay({
      amount: BigInt(terms.price),
      vendorId: terms.vendorId,
      resource,
      url,
      ...resendable(init),
      // Checked again where the payment is counted (another tab may have paid meanwhile).
      limits: { perVendorPerDay: vendorLimit(options, terms.vendorId), perDay: options.policy?.maxPerDay },
    });
    const paid = withHeader(init, HEADERS.payment, payment.header);
    const send = () =>
      fetchVendor(
        base,
        url,
        options.signedReceipts ? withHeader(paid, HEADERS.receiptSignature, 'ed25519') : paid,
      );
    // Unknown whether it arrived when nothing answers: the payment stays in flight; `recover` sends it again.
    const answer = await answerTo(send);
    const { res } = answer;
    // A receipt means the vendor took the coins, whatever the status (a retried payment whose handler
    // now fails is answered with the receipt it had).
    if (answer.receipt) {
      const { receipt } = answer;
      await wallet.settle(payment.id, { accepted: true, receipt: receipt.kept });
      const checked = options.signedReceipts ? await signature(receipt.decoded, terms) : undefined;
      return Object.assign(res, {
        netpay: {
          paid: payment.amount,
          vendorId: terms.vendorId,
          receipt: receipt.kept,
          serverWallet: false,
          ...(checked ? { signature: checked } : {}),
        },
      });
    }
    await settleRefused(wallet, payment, res, answer.code);
    return res;
  };
}

/**
 * The vendor's answer to a payment: its receipt, or else its refusal code. A vendor that could not check
 * the coins this time is asked once more with the same payment: a copy of it (a request the network sent
 * twice) may have been taken meanwhile, and is then answered with its receipt (docs/protocol.md §7.4). Not
 * after chain_busy, which says how long to wait: the caller decides.
 */
async function answerTo(
  send: () => Promise<Response>,
): Promise<
  | { res: Response; receipt: NonNullable<ReturnType<typeof receiptOf>> }
  | { res: Response; receipt?: undefined; code: string }
> {
  let res = await send();
  for (let attempt = 1; ; attempt++) {
    const receipt = receiptOf(res);
    if (receipt) return { res, receipt };
    const code = await refusalCode(res);
    if (attempt > 1 || code === 'chain_busy' || !TRY_AGAIN.has(code)) return { res, code };
    await res.body?.cancel().catch(() => {});
    res = await send();
  }
}

/** A payment answered without a receipt, settled by what its answer proves. */
async function settleRefused(
  wallet: Wallet,
  payment: { id: string; amount: bigint },
  res: Response,
  code: string,
): Promise<void> {
  // A 5xx without a receipt may not be the vendor's at all: a gateway in front of it (502, 504) that lost
  // the vendor's answer, a receipt and all. Unknown whether the coins were taken: the payment stays in
  // flight, and `recoverPayments` sends it again (the vendor answers a payment it took with its receipt).
  // The gate's own 5xx refusals (the broker unreachable, a misconfigured payee) say nothing was taken.
  if (res.status >= 500 && !GATE_TOOK_NOTHING.has(code)) return;
  // Coins the vendor has already (an earlier copy of them was taken and its answer lost): spent there.
  if (TAKEN_HERE.has(code)) return wallet.settle(payment.id, { accepted: true, code });
  // Refused (402/409/400…): the vendor recorded nothing, so the coins go back to their chains. Exact coins
  // refused as an overpayment (the price in the fresh terms is what was paid) mean the vendor's state of
  // the chains is behind this wallet's (a take-over from an older backup, docs/protocol.md §8.4).
  const outOfStep = code === 'overpayment' && (await termsOf(res))?.price === String(payment.amount);
  await wallet.settle(payment.id, { accepted: false, code, ...(outOfStep ? { outOfStep } : {}) });
}

/**
 * What to keep of a request other than a plain GET, so that a lost answer can be followed by the same
 * request. One that cannot be kept (a stream body, or bigger than a wallet keeps) is not paid at all:
 * its payment could never be settled after a crash.
 */
function resendable(init: RequestInit | undefined): { request?: PaymentRecord['request'] } {
  const method = (init?.method ?? 'GET').toUpperCase();
  if ((method === 'GET' || method === 'HEAD') && init?.body == null) return {};
  const headers = [...new Headers(init?.headers).entries()].filter(
    ([k]) => k !== HEADERS.payment.toLowerCase(),
  );
  const kept = KeptRequestSchema.safeParse({
    method,
    headers,
    ...(init?.body == null ? {} : { body: init.body }),
  });
  if (!kept.success)
    throw paymentDeclined(
      'request_not_kept',
      'this request cannot be paid: a wallet keeps a paid request to send it again (text body up to 64 KiB, headers up to 8 KiB each)',
    );
  return { request: kept.data };
}

/** Checks a receipt's signature with the key the wallet's broker has registered for the vendor. */
function receiptSignatures(wallet: Wallet) {
  const vendorKeys = new Map<string, Uint8Array | undefined>();
  return async (receipt: Receipt | undefined, terms: Terms) => {
    const { vendorId } = terms;
    if (!receipt?.sig) return 'missing' as const;
    if (!vendorKeys.has(vendorId)) {
      const party = await wallet.api.party({ params: { id: vendorId } }).catch(() => undefined);
      vendorKeys.set(vendorId, party ? fromBase64url(party.publicKey) : undefined);
    }
    const key = vendorKeys.get(vendorId);
    return receipt.vendorId === vendorId && key && verifyMessageSignature('receipt', receipt, key)
      ? ('valid' as const)
      : ('invalid' as const);
  };
}
