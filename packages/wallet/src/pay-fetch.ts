import {
  decodeHeader,
  formatAmount,
  fromBase64url,
  HEADERS,
  money,
  NetPayError,
  type Receipt,
  type Terms,
  TermsSchema,
  verifyMessageSignature,
  walletCookieName,
} from '@netpay/protocol';
import { KeptRequestSchema, type PaymentRecord } from './state.ts';
import type { Wallet } from './wallet.ts';

/** The terms a NetPay vendor answers 402 with: @netpay/protocol's schema (docs/protocol.md §9). */
export { type Terms, TermsSchema };

/** Limits on what payFetch pays without asking. Amounts in minor units. */
export interface SpendPolicy {
  /** Most one request may cost. */
  readonly maxPerRequest?: bigint;
  /** Most one vendor may be paid in a UTC day (the same for every vendor, or per vendor). */
  readonly maxPerVendorPerDay?: bigint | ((vendorId: string) => bigint | undefined);
  /** Most all vendors together may be paid in a UTC day. */
  readonly maxPerDay?: bigint;
  /** Asked before every payment (a UI's confirm dialog); false refuses it. */
  readonly ask?: (terms: Terms, url: string) => boolean | Promise<boolean>;
}

export interface PayFetchOptions {
  readonly policy?: SpendPolicy;
  /**
   * Pay from the server-side wallet at the broker instead of coins: the first time at a vendor, the
   * wallet signs in there through the broker (cap `serverWalletCap` per day) and keeps the vendor's cookie.
   */
  readonly serverWallet?: boolean;
  readonly serverWalletCap?: bigint;
  /**
   * Ask every vendor for a signed receipt (`NetPay-Receipt-Signature: ed25519`, docs/protocol.md §9) and
   * check its signature with the vendor's key from the wallet's broker; `response.netpay.signature` says
   * how it went. The coins are spent either way: a bad signature is evidence, not a refund.
   */
  readonly signedReceipts?: boolean;
  readonly fetch?: typeof fetch;
}

/** What payFetch paid for a response (also on `response.netpay`). */
export interface PaidInfo {
  readonly paid: bigint;
  readonly vendorId: string;
  readonly receipt: unknown;
  readonly serverWallet: boolean;
  /** With `signedReceipts`: whether the receipt carried a valid signature of the vendor. */
  readonly signature?: 'valid' | 'invalid' | 'missing';
}

/**
 * Why payFetch did not pay: a NetPayError with status 402, `code` one of the policy or wallet codes, and
 * `details.terms` what was asked (when there were terms).
 */
export const paymentDeclined = (code: string, message: string, terms?: Terms) =>
  new NetPayError(code, message, { status: 402, ...(terms ? { details: { terms } } : {}) });

/**
 * A drop-in `fetch` that pays NetPay vendors: on a 402 with NetPay terms it checks the price against the
 * spend policy, pays exactly the price from the wallet (writing the payment down first), and retries the
 * request once with the payment. It remembers each resource's terms, so the next call pays up front and
 * takes one round trip. The response carries `netpay: PaidInfo` when something was paid.
 */
export function createPayFetch(wallet: Wallet, options: PayFetchOptions = {}) {
  const base = options.fetch ?? globalThis.fetch;
  const known = new Map<string, Terms>();

  const vendorLimit = (vendorId: string) => {
    const l = options.policy?.maxPerVendorPerDay;
    return typeof l === 'function' ? l(vendorId) : l;
  };

  async function check(terms: Terms, url: string) {
    const cur = await wallet.currency();
    if (terms.currency !== cur.code || terms.exponent !== cur.exponent)
      throw paymentDeclined(
        'wrong_currency',
        `${url} asks for ${terms.currency}; this wallet holds ${cur.code}`,
      );
    const brokerOk = terms.brokers.some((b) => b.url.replace(/\/+$/, '') === wallet.brokerUrl);
    if (!brokerOk && !options.serverWallet)
      throw paymentDeclined(
        'broker_not_accepted',
        `${terms.vendorId} does not take coins from ${wallet.brokerUrl}`,
      );
    const price = BigInt(terms.price);
    const p = options.policy ?? {};
    const f = (m: bigint) => formatAmount(money(m, cur));
    const refuse = (code: string, what: string, limit: bigint) =>
      paymentDeclined(code, `${url} costs ${f(price)} ${cur.code}: over ${what} of ${f(limit)}`, terms);
    if (p.maxPerRequest !== undefined && price > p.maxPerRequest)
      throw refuse('over_max_price', 'the most per request', p.maxPerRequest);
    const perVendor = vendorLimit(terms.vendorId);
    if (perVendor !== undefined && wallet.spentToday(terms.vendorId) + price > perVendor)
      throw refuse('over_vendor_daily_limit', `today's limit for ${terms.vendorId}`, perVendor);
    if (p.maxPerDay !== undefined && wallet.spentToday('*') + price > p.maxPerDay)
      throw refuse('over_daily_limit', "today's limit", p.maxPerDay);
    if (p.ask && !(await p.ask(terms, url)))
      throw paymentDeclined('declined', `the payment of ${price} to ${terms.vendorId} was declined`, terms);
  }

  async function termsOf(res: Response): Promise<Terms | undefined> {
    const body = await res
      .clone()
      .json()
      .catch(() => undefined);
    const parsed = TermsSchema.safeParse((body as { terms?: unknown } | undefined)?.terms);
    return parsed.success ? parsed.data : undefined;
  }

  const withHeader = (init: RequestInit | undefined, name: string, value: string) => {
    const headers = new Headers(init?.headers);
    headers.set(name, value);
    return { ...init, headers };
  };

  /** What to keep of a request other than a plain GET, so a crash can be followed by the same request. */
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
  const vendorKeys = new Map<string, Uint8Array | undefined>();
  async function receiptSignature(receipt: Receipt | undefined, vendorId: string) {
    if (!receipt?.sig) return 'missing' as const;
    if (!vendorKeys.has(vendorId)) {
      const party = await wallet.api.party({ params: { id: vendorId } }).catch(() => undefined);
      vendorKeys.set(vendorId, party ? fromBase64url(party.publicKey) : undefined);
    }
    const key = vendorKeys.get(vendorId);
    return receipt.vendorId === vendorId && key && verifyMessageSignature('receipt', receipt, key)
      ? ('valid' as const)
      : ('invalid' as const);
  }

  async function payWithCoins(url: string, init: RequestInit | undefined, terms: Terms) {
    const resource = `${(init?.method ?? 'GET').toUpperCase()} ${new URL(url).pathname}${new URL(url).search}`;
    const payment = await wallet.pay({
      amount: BigInt(terms.price),
      vendorId: terms.vendorId,
      resource,
      url,
      ...resendable(init),
      // Checked again where the payment is counted (another tab may have paid meanwhile).
      limits: { perVendorPerDay: vendorLimit(terms.vendorId), perDay: options.policy?.maxPerDay },
    });
    let res: Response;
    try {
      const paid = withHeader(init, HEADERS.payment, payment.header);
      res = await base(
        url,
        options.signedReceipts ? withHeader(paid, HEADERS.receiptSignature, 'ed25519') : paid,
      );
    } catch (e) {
      // Unknown whether it arrived: the payment stays in flight; `recover` sends it again later.
      throw new NetPayError(
        'vendor_unreachable',
        `cannot reach ${new URL(url).origin}: ${(e as Error).message}`,
      );
    }
    const receipt = res.headers.get(HEADERS.receipt);
    // A receipt means the vendor took the coins, whatever the status (a retried payment whose handler
    // now fails is answered with the receipt it had).
    if (receipt) {
      const decoded = decodeHeader('receipt', receipt);
      await wallet.settle(payment.id, { accepted: true, receipt: decoded.ok ? decoded.value : receipt });
      const signature = options.signedReceipts
        ? await receiptSignature(decoded.ok ? decoded.value : undefined, terms.vendorId)
        : undefined;
      return Object.assign(res, {
        netpay: {
          paid: payment.amount,
          vendorId: terms.vendorId,
          receipt: decoded.ok ? decoded.value : receipt,
          serverWallet: false,
          ...(signature ? { signature } : {}),
        },
      });
    }
    // Refused (402/409/400…): the vendor recorded nothing, so the coins go back to their chains. A 5xx from
    // the handler after the gate accepted would carry a receipt; without one nothing was charged either.
    const code =
      (
        (await res
          .clone()
          .json()
          .catch(() => ({}))) as { code?: string }
      ).code ?? `http_${res.status}`;
    await wallet.settle(payment.id, { accepted: false, code });
    return res;
  }

  /** Signs in at the vendor through the broker (a redirect flow done by hand) and keeps the cookie. */
  async function serverGrant(origin: string, terms: Terms): Promise<string> {
    const existing = wallet.serverGrant(origin);
    if (existing) return existing;
    if (!terms.wallet)
      throw paymentDeclined('no_server_wallet', `${terms.vendorId} does not take server-side wallets`);
    const token = wallet.sessionToken;
    if (!token) throw new NetPayError('not_signed_in', 'sign in first (netpay wallet login)');
    const toBroker = await base(terms.wallet.signIn, { redirect: 'manual' });
    const page = new URL(toBroker.headers.get('location') ?? '', terms.wallet.signIn);
    // The vendor ties the callback to this client with a state cookie: send it back there.
    const stateCookie = (toBroker.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const authorize = await wallet.api.authorize({
      token,
      body: {
        vendor: page.searchParams.get('vendor') ?? terms.vendorId,
        redirect_uri: page.searchParams.get('redirect_uri') ?? '',
        state: page.searchParams.get('state') ?? '/',
        ...(options.serverWalletCap !== undefined ? { cap: options.serverWalletCap.toString() } : {}),
        period: 'day',
      },
    });
    const back = await base(authorize.redirect, { redirect: 'manual', headers: { cookie: stateCookie } });
    const cookie = (back.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    // The vendor's grant cookie, with a token (not its sign-in state cookie).
    if (!cookie.startsWith(`${walletCookieName(terms.vendorId)}=`) || cookie.endsWith('='))
      throw new NetPayError(
        'server_wallet_sign_in',
        `${terms.vendorId} did not finish the wallet sign-in (${back.status})`,
      );
    await wallet.setServerGrant(origin, cookie);
    return cookie;
  }

  async function payWithServerWallet(url: string, init: RequestInit | undefined, terms: Terms) {
    const origin = new URL(url).origin;
    let cookie = await serverGrant(origin, terms);
    let res = await base(url, withHeader(init, 'cookie', cookie));
    if (
      res.status === 402 &&
      (
        await res
          .clone()
          .json()
          .catch(() => ({}))
      ).code === 'payment_required'
    ) {
      // The grant is gone (withdrawn): sign in once more.
      await wallet.setServerGrant(origin, null);
      cookie = await serverGrant(origin, terms);
      res = await base(url, withHeader(init, 'cookie', cookie));
    }
    const receipt = res.headers.get('netpay-wallet-receipt');
    if (res.ok && receipt) {
      const decoded = decodeWalletReceipt(receipt);
      await wallet.recordServerWalletPayment({
        vendorId: terms.vendorId,
        resource: `${(init?.method ?? 'GET').toUpperCase()} ${new URL(url).pathname}`,
        amount: BigInt(terms.price),
        receipt: decoded,
      });
      await wallet.addSpending(terms.vendorId, BigInt(terms.price));
      return Object.assign(res, {
        netpay: { paid: BigInt(terms.price), vendorId: terms.vendorId, receipt: decoded, serverWallet: true },
      });
    }
    return res;
  }

  return async function payFetch(
    input: string | URL,
    init?: RequestInit,
  ): Promise<Response & { netpay?: PaidInfo }> {
    // Relative URLs resolve against the page, as fetch's do.
    const url = new URL(String(input), globalThis.location?.href).toString();
    const remembered = known.get(url);
    let terms: Terms | undefined = remembered;
    if (!terms) {
      let first: Response;
      try {
        first = await base(url, init);
      } catch (e) {
        // Nothing was paid: say which shop, in the wallet's terms.
        throw new NetPayError(
          'vendor_unreachable',
          `cannot reach ${new URL(url).origin}: ${(e as Error).message}`,
        );
      }
      if (first.status !== 402) return first;
      terms = await termsOf(first);
      if (!terms) return first; // a 402 that is not NetPay's
      known.set(url, terms);
    }
    await check(terms, url);
    const res = options.serverWallet
      ? await payWithServerWallet(url, init, terms)
      : await payWithCoins(url, init, terms);
    if (remembered && res.status === 402) {
      // The price changed since: learn the new terms and go round once more.
      known.delete(url);
      const fresh = await termsOf(res);
      if (!fresh) return res;
      known.set(url, fresh);
      await check(fresh, url);
      return options.serverWallet ? payWithServerWallet(url, init, fresh) : payWithCoins(url, init, fresh);
    }
    return res;
  };
}

/** The vendor's server-side wallet receipt (base64url JSON); kept as it came if it does not decode. */
function decodeWalletReceipt(header: string): unknown {
  const bytes = fromBase64url(header);
  try {
    return bytes ? JSON.parse(new TextDecoder().decode(bytes)) : header;
  } catch {
    return header;
  }
}

/**
 * Settles payments left in flight by a crash: each is sent again exactly as it was (same paywords, same
 * resource). A vendor that had accepted it answers with the same receipt and charges nothing; one that
 * never saw it accepts it now; a refusal gives the coins back. Payments whose vendor cannot be reached
 * stay in flight (their chains unused) until the next call.
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
  } = {},
) {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const before = Date.now() - (options.olderThanMs ?? 0);
  const out = { resent: 0, accepted: 0, refused: 0, unreachable: 0, kept: 0 };
  for (const p of wallet.unsettled()) {
    if (!p.url || !p.header || Date.parse(p.at) > before) continue;
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
    const receipt = res.headers.get(HEADERS.receipt);
    if (receipt) {
      // Taken, whatever the status (the handler may fail this time; the coins were accepted).
      const decoded = decodeHeader('receipt', receipt);
      await wallet.settle(p.id, { accepted: true, receipt: decoded.ok ? decoded.value : receipt });
      out.accepted++;
    } else if (res.status < 500) {
      const code = ((await res.json().catch(() => ({}))) as { code?: string }).code ?? `http_${res.status}`;
      await wallet.settle(p.id, { accepted: false, code });
      out.refused++;
    } else {
      out.unreachable++;
    }
    await res.body?.cancel().catch(() => {});
  }
  return out;
}
