import { createClient, DEFAULT_HANDOVER_PATH, unanswered, vendorApi } from '@netpay/api';
import {
  allocate,
  brokerKeyring,
  bytesEqual,
  type ChainStep,
  chainStepper,
  decodeHeader,
  decodeMessage,
  type Ed25519Signer,
  encodeHeader,
  formatAmount,
  fromBase64url,
  type HandoverRequest,
  HEADERS,
  type IndexMessage,
  currency as makeCurrency,
  money,
  NetPayError,
  type PayeeShare,
  PROTOCOL_ERROR_STATUS,
  type ProtocolErrorCode,
  type Receipt,
  randomBytes,
  signMessage,
  type Terms,
  type Touchstone,
  toBase64url,
  verifyIndex,
  verifyMessageSignature,
  verifyPayment,
  verifyTouchstone,
  walletCookieName,
  walletStateCookieName,
} from '@netpay/protocol';
import { escapeHtml } from '@netpay/service';
import { type BrokerClient, BrokerError, type WalletCharge } from './broker-client.ts';
import type { ChainStore, HeldChain } from './store.ts';

/** What a priced resource costs: minor units of the gate's currency, optional payees with shares (bps). */
export interface Price {
  readonly amount: bigint;
  readonly payees?: readonly PayeeShare[];
  readonly description?: string;
}

export interface GateRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** A response the gate answers with itself (402 with terms, or a 4xx explaining a refused payment). */
export interface GateAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: { code: string; message: string; terms?: unknown };
}

/**
 * The gate's own codes beside the protocol's (docs/protocol.md §10), each with its HTTP status and meaning;
 * the table in the docs is generated from this (`npm run docs:codes`).
 */
export const GATE_ONLY_ERRORS = {
  payment_required: [402, 'No payment was sent: the body and the `NetPay-Terms` header carry the terms.'],
  insufficient_payment: [402, 'The coins are worth less than the price. Nothing is recorded.'],
  overpayment: [402, 'The coins are worth more than the price: pay exactly. Nothing is recorded.'],
  chain_unknown: [
    402,
    'The broker this vendor uses does not know the chain: pay with coins of an accepted broker.',
  ],
  chain_refunded: [
    402,
    'The chain was refunded or closed (or its refund is under way) and accepts no more payments: pay with another chain.',
  ],
  chain_not_held: [409, 'The chain could not be handed over from the vendor holding it; retry.'],
  chain_busy: [
    409,
    'Another vendor holds the chain under a live lease and does not answer: retry after `Retry-After` seconds, or pay with another chain.',
  ],
  lease_lost: [
    409,
    "This vendor's hold on the chain ended while the request ran. Nothing was charged; retry.",
  ],
  payment_conflict: [
    409,
    'Some of the coins were spent here already (part of a payment replayed), or another instance accepted them at the same moment. Nothing was charged.',
  ],
  spending_limit: [402, "Server-side wallet: the customer's cap for this vendor is reached."],
  wallet_insufficient_funds: [402, "Server-side wallet: the customer's broker balance is too low."],
  wallet_sign_in: [400, 'The server-side wallet sign-in callback came without a valid code or state.'],
  wallet_refused: [
    502,
    'Server-side wallet: the broker refused the charge for a reason the customer cannot fix.',
  ],
  payee_unknown: [
    500,
    'The price names a payee the broker does not know (a misconfigured price). Nothing was charged.',
  ],
  broker_unavailable: [
    503,
    'The broker was needed (first payment from a chain, a renewal, a hand-over) and could not be reached; retry.',
  ],
} as const satisfies Record<string, readonly [number, string]>;

/** Every code the gate answers with: the protocol's, then its own. */
export type GateErrorCode = ProtocolErrorCode | keyof typeof GATE_ONLY_ERRORS;

/** Every code's status (a new code without one fails to compile). */
export const GATE_ERROR_STATUS: Record<GateErrorCode, number> = {
  ...PROTOCOL_ERROR_STATUS,
  ...(Object.fromEntries(Object.entries(GATE_ONLY_ERRORS).map(([k, [status]]) => [k, status])) as Record<
    keyof typeof GATE_ONLY_ERRORS,
    number
  >),
};

/** Refusals a stale cache could cause (another instance advanced the chain): worth one reload. */
const RELOAD_ON = new Set<string>([
  'payword_invalid',
  'index_not_advancing',
  'overpayment',
  'insufficient_payment',
  'payment_conflict',
]);

/** A paid request between `begin` and `finish`: coins reserved, or a server-side wallet charge made. */
type Ticket = CoinTicket | WalletTicket;

interface WalletTicket {
  /** Paid from the customer's server-side wallet instead of coins: the broker's charge. */
  readonly wallet: WalletCharge;
  /** Payees' shares as canonical JSON, for the dashboard. */
  readonly payees?: string;
  readonly release: () => void;
}

interface CoinTicket {
  readonly wallet?: undefined;
  readonly advances: {
    chain: HeldChain;
    fromIndex: number;
    fromPayword: Uint8Array;
    toIndex: number;
    payword: Uint8Array;
  }[];
  /** Payees' shares as canonical JSON, for multi-party redemption. */
  readonly payees?: string;
  readonly receipt: Receipt;
  /** What was paid for ("GET /path"): a retry is served free only for the same resource. */
  readonly resource: string;
  /** A retry of a payment already accepted: serve again, charge nothing. */
  readonly replay: boolean;
  readonly release: () => void;
}

export interface GateOptions {
  readonly vendorId: string;
  readonly signer: Ed25519Signer;
  readonly broker: BrokerClient;
  readonly brokerUrl: string;
  readonly store: ChainStore;
  /** Currency of every price: must be the broker's. */
  readonly currency: { code: string; exponent: number };
  /** Most coins one payment may take from one chain. Default 1,000. */
  readonly maxCoins?: number;
  readonly clock?: () => number;
  /** Path where this vendor serves hand-over requests from other vendors. */
  readonly handoverPath?: string;
  /** How long to wait for a holder to hand a chain over before taking it over through the broker. */
  readonly handoverTimeoutMs?: number;
  /**
   * How much sooner than the broker's lease this vendor stops accepting a chain (ms): the lease is counted
   * from when the request that got it was sent, minus this margin for clock rate and the time a payment
   * takes from check to commit. Default 2,000 (at most a fifth of the lease).
   */
  readonly leaseMarginMs?: number;
  /**
   * This vendor's public URL (as registered at the broker). With it, customers without coins can pay from
   * a server-side wallet: the terms carry a sign-in link, and the gate serves the sign-in routes.
   */
  readonly publicUrl?: string | (() => string | undefined);
  /** Where the server-side wallet sign-in routes live. Default /netpay/wallet. */
  readonly walletPath?: string;
}

export const DEFAULT_WALLET_PATH = '/netpay/wallet';

/**
 * Until when (local ms) a vendor may accept coins under a lease of `leaseMs` granted to a request sent at
 * `sentAt`: the margin, at most a fifth of a short lease, covers clock rate and the check-to-commit time.
 */
export const leaseEnd = (sentAt: number, leaseMs: number, marginMs: number) =>
  sentAt + leaseMs - Math.min(marginMs, leaseMs / 5);
export const WALLET_RECEIPT_HEADER = 'NetPay-Wallet-Receipt';

function cookie(headers: GateRequest['headers'], name: string): string | undefined {
  const raw = headers.cookie;
  for (const part of (Array.isArray(raw) ? raw.join(';') : (raw ?? '')).split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The header a client sends to get its receipt signed by the vendor (docs/protocol.md §9). */
export const RECEIPT_SIGNATURE_HEADER = HEADERS.receiptSignature;

const header = (req: GateRequest, name: string) => {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};
/** `NetPay-Receipt-Signature: ed25519` asks for a signed receipt. */
const wantsSignedReceipt = (req: GateRequest) => header(req, RECEIPT_SIGNATURE_HEADER)?.trim() === 'ed25519';
/** The paid request's `Idempotency-Key`, echoed in the receipt as `requestId` when it fits (§6.5). */
const requestId = (req: GateRequest) => {
  const key = header(req, 'Idempotency-Key');
  return key !== undefined && /^[\x21-\x7e]{1,128}$/.test(key) ? key : undefined;
};

/** Payees' shares as canonical JSON (what the store keeps with a payment), or none. */
const payeesJson = (price: Price) =>
  price.payees
    ? JSON.stringify(price.payees.map((p) => ({ payeeId: p.payeeId, share: p.share })))
    : undefined;

/** A same-site path to return to after signing in: never another origin, no control characters. */
const safeReturn = (p: unknown) =>
  // Printable ASCII only (percent-encode the rest), starting with one slash.
  typeof p === 'string' && /^\/(?![/\\])[!-~]*$/.test(p) && !p.includes('\\') && p.length <= 2048 ? p : '/';

/** A response to a wallet route: a redirect, or an error the browser shows. */
export interface RouteAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body?: { code: string; message: string };
}

export { DEFAULT_HANDOVER_PATH };

/**
 * The framework-agnostic payment gate. `begin` answers an unpaid request with 402 and terms, or verifies
 * its payment (one hash per coin) and reserves the chains; the handler then runs with its response held
 * back; `finish` records the coins durably (group commit) if the handler succeeded and returns the receipt
 * header, or releases the reservation if it failed — a failed handler is never charged.
 */
export function createGate(o: GateOptions) {
  // The customer's grant token for this vendor, and the nonce tying a sign-in's callback to the browser
  // that started it (login CSRF): cookies named per vendor.
  const WALLET_COOKIE_NAME = walletCookieName(o.vendorId);
  const STATE_COOKIE = walletStateCookieName(o.vendorId);
  const clock = o.clock ?? Date.now;
  const cur = makeCurrency(o.currency.code, o.currency.exponent);
  const walletPath = o.walletPath ?? DEFAULT_WALLET_PATH;
  const publicUrl = () => (typeof o.publicUrl === 'function' ? o.publicUrl() : o.publicUrl);
  /** Where the wallet routes are reached from outside, once the vendor knows its public URL. */
  const walletBase = () => {
    const u = publicUrl();
    return u ? u.replace(/\/+$/, '') + walletPath : undefined;
  };
  const leaseMarginMs = o.leaseMarginMs ?? 2_000;
  /** Holds the lease the broker granted to a request sent at `sentAt` for `leaseMs`. */
  const keepLease = (chainId: string, sentAt: number, leaseMs: number) =>
    o.store.setLease(chainId, leaseEnd(sentAt, leaseMs, leaseMarginMs));
  const locks = new Map<string, Promise<void>>();
  const steps = new Map<string, ChainStep>();
  let keys: Awaited<ReturnType<BrokerClient['keys']>> = [];

  const answer = (
    code: GateErrorCode,
    message: string,
    extra: { headers?: Record<string, string>; terms?: unknown } = {},
  ): GateAnswer => ({
    status: GATE_ERROR_STATUS[code],
    headers: extra.headers ?? {},
    body: { code, message, ...(extra.terms ? { terms: extra.terms } : {}) },
  });

  /** The terms of a priced resource (docs/protocol.md §9, `TermsSchema`). */
  function terms(price: Price, req: GateRequest): Terms {
    const brokerKeys = keys.filter((k) => k.brokerId === keys[0]?.brokerId);
    return {
      v: 1,
      vendorId: o.vendorId,
      resource: `${req.method} ${req.url}`,
      price: price.amount.toString(),
      currency: cur.code,
      exponent: cur.exponent,
      brokers: [
        {
          url: o.brokerUrl,
          ...(brokerKeys.length > 0
            ? { brokerId: brokerKeys[0]!.brokerId, keyIds: brokerKeys.map((k) => k.keyId) }
            : {}),
        },
      ],
      ...(price.payees ? { payees: [...price.payees] } : {}),
      ...(price.description ? { description: price.description } : {}),
      ...(walletBase()
        ? { wallet: { signIn: `${walletBase()}/signin?return=${encodeURIComponent(req.url)}` } }
        : {}),
      pay: `send ${HEADERS.payment}: base64url(JSON payment) with coins worth exactly the price`,
    };
  }

  function paymentRequired(
    price: Price,
    req: GateRequest,
    code: GateErrorCode = 'payment_required',
    message?: string,
  ) {
    const t = terms(price, req);
    return answer(code, message ?? `this costs ${price.amount} minor units of ${cur.code}; pay with NetPay`, {
      headers: { [HEADERS.terms.toLowerCase()]: encodeHeader(t) },
      terms: t,
    });
  }

  /**
   * A refused payment carries fresh terms (body and `NetPay-Terms`), so the wallet can pay again
   * differently; server errors (5xx) do not.
   */
  function withTerms(a: GateAnswer, price: Price, req: GateRequest): GateAnswer {
    if (a.body.terms !== undefined || a.status >= 500) return a;
    const fresh = paymentRequired(price, req, a.body.code as GateErrorCode, a.body.message);
    return { ...fresh, headers: { ...a.headers, ...fresh.headers } };
  }

  /** Serializes payments per chain inside this process; resolves with the unlock function. */
  async function lockChains(chainIds: string[]): Promise<() => void> {
    const releases: (() => void)[] = [];
    for (const id of [...chainIds].sort()) {
      const prior = locks.get(id) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((r) => {
        release = r;
      });
      const tail = prior.then(() => mine);
      locks.set(id, tail);
      await prior;
      releases.push(() => {
        release();
        if (locks.get(id) === tail) locks.delete(id);
      });
    }
    return () => {
      for (const r of releases) r();
    };
  }

  /** Payees the broker knows: a price naming any other could never be redeemed, so it takes no money. */
  const knownPayees = new Set<string>([o.vendorId]);
  async function checkPayees(payees: readonly PayeeShare[]): Promise<GateAnswer | undefined> {
    for (const { payeeId } of payees) {
      if (knownPayees.has(payeeId)) continue;
      try {
        await o.broker.party(payeeId);
        knownPayees.add(payeeId);
      } catch (e) {
        if (e instanceof BrokerError && e.status === 404)
          return answer(
            'payee_unknown',
            `payee ${payeeId} is not registered at the broker; this price is misconfigured`,
          );
        return answer('broker_unavailable', 'the broker cannot be reached to check the payees; try again');
      }
    }
    return undefined;
  }

  async function brokerKey(brokerId: string, keyId: string): Promise<Uint8Array | undefined> {
    const find = () => keys.find((k) => k.brokerId === brokerId && k.keyId === keyId)?.publicKey;
    if (!find()) keys = await o.broker.keys();
    return find();
  }

  /** A refusal that carries fresh terms, so the wallet can pay again with other coins. */
  type Refuse = (code: GateErrorCode, message: string) => GateAnswer;

  /**
   * The chain as this vendor holds it under a valid lease: taken through the broker's directory the first
   * time, and renewed there whenever the lease has run out (after a restart, or an idle spell). A chain
   * the broker moved on meanwhile (its lease ran out) or refunded is no longer held here.
   */
  async function acquire(chainId: string, refuse: Refuse): Promise<HeldChain | GateAnswer> {
    const held = await o.store.get(chainId);
    if (held?.status === 'held' && o.store.leaseValid(chainId, clock())) return held;
    // Past expiry no lease is granted: the payment check refuses its coins as touchstone_expired.
    if (held?.status === 'held' && clock() >= held.touchstone.expiresAt * 1000) return held;
    const sentAt = clock();
    let claim: Awaited<ReturnType<BrokerClient['claim']>>;
    try {
      claim = await o.broker.claim(chainId);
    } catch (e) {
      if (e instanceof BrokerError && e.status < 500) {
        if (held?.status === 'held') await o.store.releaseTakenOver(chainId);
        if (e.code === 'chain_refunded' || e.code === 'chain_refunding')
          return refuse('chain_refunded', `this chain accepts no more payments: ${e.message}`);
        if (e.code === 'chain_expired') return refuse('touchstone_expired', e.message);
        if (e.code === 'chain_not_found') return refuse('chain_unknown', e.message);
        return answer('chain_not_held', `the broker refused this chain: ${e.message}`);
      }
      return answer('broker_unavailable', 'the broker cannot be reached to check this chain; try again');
    }
    const t = claim.touchstone;
    if (held?.status === 'held') {
      if (claim.granted) {
        keepLease(chainId, sentAt, claim.leaseMs);
        return held;
      }
      await o.store.releaseTakenOver(chainId);
    }
    const checked = await checkTouchstone(t, refuse);
    if (checked) return checked;
    if (claim.granted) {
      const start = claim.backup
        ? { index: claim.backup.index, payword: fromBase64url(claim.backup.payword)! }
        : { index: 0, payword: fromBase64url(t.root)! };
      const chain = await o.store.hold(t, start);
      keepLease(chainId, sentAt, claim.leaseMs);
      return chain;
    }
    return handoverFrom(t, claim.holder, refuse);
  }

  /** The touchstone verified under the broker's published key, or the answer refusing it. */
  async function checkTouchstone(t: Touchstone, refuse: Refuse): Promise<GateAnswer | undefined> {
    let key: Uint8Array | undefined;
    try {
      key = await brokerKey(t.brokerId, t.keyId);
    } catch {
      return answer(
        'broker_unavailable',
        "the broker's keys cannot be fetched to check this chain; try again",
      );
    }
    const checked = verifyTouchstone(
      t,
      (b, k) => (b === t.brokerId && k === t.keyId ? key : undefined),
      Math.floor(clock() / 1000),
    );
    if (!checked.ok) return refuse(checked.error.code, checked.error.message);
    return undefined;
  }

  /** Another vendor's hand-over route: the contract's (vendorApi.handover), at the configured path. */
  const handoverRoutes = {
    handover: { ...vendorApi.handover, path: o.handoverPath ?? DEFAULT_HANDOVER_PATH },
  };
  const handoverClient = (url: string) =>
    createClient(handoverRoutes, { url, name: 'the holder', timeoutMs: o.handoverTimeoutMs ?? 3_000 });

  /**
   * Asks the holder to hand the chain over (a signed request; the holder stops accepting it and signs an
   * index to us), records the hand-over at the broker, and holds the chain from that index. A holder that
   * does not answer in time is bypassed: the broker hands the chain over from its last backup.
   */
  async function handoverFrom(
    t: Touchstone,
    holder: { id: string; url: string | null },
    refuse: Refuse,
  ): Promise<HeldChain | GateAnswer> {
    const request = signMessage(
      'handover-request',
      {
        v: 1,
        chainId: t.chainId,
        holder: holder.id,
        requester: o.vendorId,
        nonce: toBase64url(randomBytes(16)),
        issuedAt: Math.floor(clock() / 1000),
      },
      o.signer,
    );
    // Take the chain over through the broker only when the holder cannot be reached at all: a holder that
    // answers (even with an error) is alive and may still be accepting the chain.
    let index: IndexMessage | undefined;
    if (holder.url) {
      // What the holder answered: its hand-over response, null for an answer that is not one (an error,
      // a bad body), undefined when nothing answered (unreachable or too slow).
      let res: unknown;
      let status = 200;
      try {
        res = await handoverClient(holder.url).handover({ body: request });
      } catch (e) {
        res = unanswered(e) ? undefined : null;
        status = e instanceof NetPayError ? (e.status ?? 0) : 0;
      }
      if (res !== undefined) {
        const decoded = res ? decodeMessage('handover-response', res) : undefined;
        let key: Uint8Array | undefined;
        try {
          key = decoded?.ok ? (await o.broker.party(holder.id)).publicKey : undefined;
        } catch {
          return answer(
            'broker_unavailable',
            'the broker cannot be reached to check the hand-over; try again',
          );
        }
        const valid =
          decoded?.ok &&
          key !== undefined &&
          decoded.value.chainId === t.chainId &&
          decoded.value.nonce === request.nonce &&
          decoded.value.index.vendorId === holder.id &&
          verifyMessageSignature('handover-response', decoded.value, key) &&
          verifyIndex(decoded.value.index, {
            vendorKey: key,
            chainId: t.chainId,
            handedTo: o.vendorId,
            touchstone: t,
          }).ok;
        if (!valid || !decoded?.ok) {
          return answer(
            'chain_not_held',
            `vendor ${holder.id} did not hand this chain over (HTTP ${status}); retry the payment`,
          );
        }
        index = decoded.value.index;
      }
    }
    const sentAt = clock();
    try {
      if (index) {
        const done = await o.broker.handover(index);
        const chain = await o.store.hold(t, { index: index.index, payword: fromBase64url(index.payword)! });
        keepLease(t.chainId, sentAt, done.leaseMs);
        return chain;
      }
      const taken = await o.broker.takeover(t.chainId);
      const start = taken.start ?? { index: 0, payword: t.root };
      const chain = await o.store.hold(t, { index: start.index, payword: fromBase64url(start.payword)! });
      keepLease(t.chainId, sentAt, taken.leaseMs);
      return chain;
    } catch (e) {
      if (e instanceof BrokerError && e.code === 'lease_active') {
        // The holder does not answer but may still be accepting: nobody else may take the chain yet.
        const retryAfter = Number(e.details?.retryAfter ?? 1);
        return answer(
          'chain_busy',
          `vendor ${holder.id} holds this chain and does not answer; retry in ${retryAfter} s or pay with another chain`,
          { headers: { 'retry-after': String(retryAfter) } },
        );
      }
      if (e instanceof BrokerError && ['chain_refunded', 'chain_refunding', 'chain_expired'].includes(e.code))
        return refuse('chain_refunded', `this chain accepts no more payments: ${e.message}`);
      if (e instanceof BrokerError && e.status < 500)
        return answer('chain_not_held', `the broker refused the hand-over: ${e.message}`);
      return answer('broker_unavailable', 'the broker cannot be reached to hand this chain over; try again');
    }
  }

  /** Hand-overs this vendor made, by chain: a repeated request from the same requester gets the same index. */
  const handedOn = new Map<string, { requester: string; index: IndexMessage }>();
  /** Nonces of recent hand-over requests (bounded): a replayed request is refused. */
  const seenNonces = new Set<string>();

  /**
   * Checks a hand-over request's signature: a vendor's under its registered key, or the broker's (a refund,
   * docs/protocol.md §8.6) under one of the broker's published keys. Undefined when it verifies.
   */
  async function checkRequester(
    req: HandoverRequest,
  ): Promise<{ status: number; code: string; message: string } | undefined> {
    const bad = {
      status: 403,
      code: 'bad_signature',
      message: 'the hand-over request signature does not verify',
    };
    try {
      if (keys.length === 0 || keys.some((k) => k.brokerId === req.requester)) {
        // The broker signs with its current key, which may be newer than the ones this vendor has seen.
        const known = () => keys.filter((k) => k.brokerId === req.requester);
        const verifies = () =>
          known().some((k) => verifyMessageSignature('handover-request', req, k.publicKey));
        if (verifies()) return undefined;
        keys = await o.broker.keys();
        if (known().length > 0) return verifies() ? undefined : bad;
      }
      const key = (await o.broker.party(req.requester)).publicKey;
      return verifyMessageSignature('handover-request', req, key) ? undefined : bad;
    } catch (e) {
      if (e instanceof BrokerError && e.status === 404)
        return {
          status: 403,
          code: 'wrong_vendor_key',
          message: `the broker does not know ${req.requester}`,
        };
      return {
        status: 503,
        code: 'broker_unavailable',
        message: 'the broker cannot be reached to check the requester',
      };
    }
  }

  /**
   * Serves another vendor's hand-over request (docs/protocol.md §7.7): checks it is addressed to this
   * vendor, fresh, and signed by the requester's registered key; waits for payments in flight on the chain;
   * stops accepting the chain; and answers with an index signed over to the requester. Asked again by the
   * same requester (its first answer was lost), it answers with the same index.
   */
  async function serveHandover(body: unknown): Promise<{ status: number; body: unknown }> {
    const refuse = (status: number, code: string, message: string) => ({ status, body: { code, message } });
    const decoded = decodeMessage('handover-request', body);
    if (!decoded.ok) return refuse(400, 'malformed', decoded.error.message);
    const req = decoded.value;
    if (req.holder !== o.vendorId)
      return refuse(403, 'wrong_recipient', `this is ${o.vendorId}, not ${req.holder}`);
    const now = Math.floor(clock() / 1000);
    if (Math.abs(req.issuedAt - now) > 300)
      return refuse(403, 'stale_request', 'issuedAt is more than 300 s away');
    if (seenNonces.has(req.nonce))
      return refuse(409, 'replayed_request', 'this hand-over request was already served');
    const checked = await checkRequester(req);
    if (checked) return refuse(checked.status, checked.code, checked.message);
    if (seenNonces.size >= 10_000) seenNonces.delete(seenNonces.values().next().value!);
    seenNonces.add(req.nonce);
    const release = await lockChains([req.chainId]);
    try {
      const chain = await o.store.get(req.chainId);
      let index: IndexMessage;
      const earlier = handedOn.get(req.chainId);
      if (chain?.status === 'held') {
        const final = (await o.store.release(req.chainId))!;
        index = signMessage(
          'index',
          {
            v: 1,
            chainId: req.chainId,
            index: final.acceptedIndex,
            payword: toBase64url(final.acceptedPayword),
            vendorId: o.vendorId,
            handedTo: req.requester,
            issuedAt: now,
          },
          o.signer,
        );
        if (handedOn.size >= 10_000) handedOn.delete(handedOn.keys().next().value!);
        handedOn.set(req.chainId, { requester: req.requester, index });
      } else if (earlier && earlier.requester === req.requester && chain?.status === 'handed') {
        index = earlier.index;
      } else {
        return refuse(409, 'chain_not_held', 'this vendor does not hold the chain');
      }
      return {
        status: 200,
        body: signMessage(
          'handover-response',
          { v: 1, chainId: req.chainId, nonce: req.nonce, index },
          o.signer,
        ),
      };
    } finally {
      release();
    }
  }

  /**
   * Charges the customer's server-side wallet at the broker (no coins): the broker enforces the cap. The
   * charge carries our own id and one idempotency key, resent while the answer is lost; if the broker
   * never answers, the charge (if it was made) is voided by that id, so nobody pays for nothing.
   */
  async function chargeWallet(
    token: string,
    price: Price,
    req: GateRequest,
    resource: string,
  ): Promise<{ ticket: Ticket } | { answer: GateAnswer }> {
    const chargeId = toBase64url(randomBytes(16));
    const key = `charge-${chargeId}`;
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 100 * 3 ** (attempt - 1)));
      try {
        const charge = await o.broker.walletCharge({
          token,
          amount: price.amount,
          resource,
          chargeId,
          key,
          ...(price.payees ? { payees: price.payees } : {}),
        });
        const payees = payeesJson(price);
        return { ticket: { wallet: charge, release: () => {}, ...(payees ? { payees } : {}) } };
      } catch (e) {
        lastError = e;
        if (e instanceof BrokerError && e.status < 500) break;
      }
    }
    const e = lastError;
    if (!(e instanceof BrokerError) || e.status >= 500) {
      // Made or not (the answer was lost): void it. A 404 says it was never made; an outage leaves it to
      // the redeemer's rounds.
      await o.broker
        .walletVoid(chargeId)
        .catch((v) => voidNotDone(chargeId, price.amount, v).catch(() => {}));
      return {
        answer: answer('broker_unavailable', 'the broker cannot be reached to charge your wallet; try again'),
      };
    }
    if (e.code === 'spending_limit')
      return { answer: paymentRequired(price, req, 'spending_limit', e.message) };
    if (e.code === 'insufficient_funds')
      return { answer: paymentRequired(price, req, 'wallet_insufficient_funds', e.message) };
    if (e.code === 'grant_invalid' || e.code === 'grant_revoked') {
      // The grant is gone (withdrawn, or the token is stale): forget it and ask to sign in again.
      const asked = paymentRequired(
        price,
        req,
        'payment_required',
        `${e.message}; sign in to your wallet again`,
      );
      return {
        answer: {
          ...asked,
          headers: {
            ...asked.headers,
            'set-cookie': `${WALLET_COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`,
          },
        },
      };
    }
    return { answer: answer('wallet_refused', `the broker refused the charge: ${e.message}`) };
  }

  /**
   * The server-side wallet's routes: `signin` sends the browser to the broker's sign-in page, `callback`
   * takes the broker's one-time code back, trades it for the grant token and keeps that in an HttpOnly
   * cookie, `signout` forgets it. `query` is the request's query parameters.
   */
  async function walletRoute(
    route: string,
    query: Record<string, unknown>,
    headers: GateRequest['headers'] = {},
  ): Promise<RouteAnswer> {
    const refuse = (status: number, code: string, message: string): RouteAnswer => ({
      status,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: { code, message },
    });
    const walletRoot = walletBase();
    if (!walletRoot) return refuse(404, 'not_found', 'this vendor does not take server-side wallets');
    const secure = walletRoot.startsWith('https:') ? '; Secure' : '';
    if (route === 'signin') {
      const nonce = toBase64url(randomBytes(16));
      const to = new URL(`${o.brokerUrl.replace(/\/+$/, '')}/wallet/authorize`);
      to.searchParams.set('vendor', o.vendorId);
      to.searchParams.set('redirect_uri', `${walletRoot}/callback`);
      to.searchParams.set('state', `${nonce}.${safeReturn(query.return)}`);
      return {
        status: 302,
        headers: {
          location: to.toString(),
          'set-cookie': `${STATE_COOKIE}=${nonce}; Path=${walletPath}; Max-Age=900; HttpOnly; SameSite=Lax${secure}`,
        },
      };
    }
    if (route === 'callback') {
      if (typeof query.code !== 'string' || query.code.length > 128)
        return refuse(400, 'wallet_sign_in', 'the broker did not send a sign-in code back');
      // Only the browser that started this sign-in may finish it (else an attacker's grant could be planted).
      const state = typeof query.state === 'string' ? query.state : '';
      const dot = state.indexOf('.');
      const nonce = cookie(headers, STATE_COOKIE);
      if (dot < 1 || !nonce || state.slice(0, dot) !== nonce)
        return refuse(400, 'wallet_sign_in', 'this sign-in was not started in this browser; start it again');
      try {
        const grant = await o.broker.walletToken(query.code);
        return {
          status: 302,
          headers: {
            location: safeReturn(state.slice(dot + 1)),
            'set-cookie': `${WALLET_COOKIE_NAME}=${grant.token}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax${secure}`,
          },
        };
      } catch (e) {
        if (e instanceof BrokerError && e.status < 500) return refuse(400, 'wallet_sign_in', `${e.message}`);
        return refuse(
          503,
          'broker_unavailable',
          'the broker cannot be reached to finish signing in; try again',
        );
      }
    }
    if (route === 'signout') {
      return {
        status: 302,
        headers: {
          location: safeReturn(query.return),
          'set-cookie': `${WALLET_COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${secure}`,
        },
      };
    }
    return refuse(404, 'not_found', `no wallet route ${route}`);
  }

  /** The broker's keys, fetched once so the terms can name the broker id and key ids (best effort). */
  let keysAsked: Promise<void> | undefined;
  const knowKeys = () =>
    (keysAsked ??= o.broker
      .keys()
      .then((k) => {
        keys = k;
      })
      .catch(() => {
        keysAsked = undefined; // asked again next time
      }));

  async function begin(req: GateRequest, price: Price): Promise<{ ticket: Ticket } | { answer: GateAnswer }> {
    // Waited for briefly (only until the keys are first known): a broker that is down delays no request.
    if (keys.length === 0) await Promise.race([knowKeys(), new Promise((r) => setTimeout(r, 500))]);
    const raw = req.headers[HEADERS.payment.toLowerCase()];
    const header = Array.isArray(raw) ? raw[0] : raw;
    // HEAD shows the terms and is never charged.
    if (req.method === 'HEAD') return { answer: paymentRequired(price, req) };
    const resource = `${req.method} ${req.url}`;
    if (header === undefined) {
      const token = walletBase() ? cookie(req.headers, WALLET_COOKIE_NAME) : undefined;
      return token ? chargeWallet(token, price, req, resource) : { answer: paymentRequired(price, req) };
    }
    const decoded = decodeHeader('payment', header);
    if (!decoded.ok) return { answer: paymentRequired(price, req, 'malformed', decoded.error.message) };
    if (price.payees) {
      const refused = await checkPayees(price.payees);
      if (refused) return { answer: refused };
    }
    const parts = decoded.value.parts;
    const release = await lockChains(parts.map((p) => p.chainId));
    try {
      // Another instance over the same database may have advanced a chain: on a refusal that a stale
      // cache could explain, reload the chains and look once more.
      let result = await evaluate(false);
      if ('answer' in result && RELOAD_ON.has(result.answer.body.code)) result = await evaluate(true);
      if ('answer' in result) {
        release();
        return { answer: withTerms(result.answer, price, req) };
      }
      return result;
    } catch (e) {
      release();
      throw e;
    }

    async function evaluate(fresh: boolean): Promise<{ ticket: Ticket } | { answer: GateAnswer }> {
      const now = Math.floor(clock() / 1000);
      const advances: CoinTicket['advances'] = [];
      let total = 0n;
      let replays = 0;
      for (const part of parts) {
        if (fresh) await o.store.reload(part.chainId);
        const chain = await acquire(part.chainId, (code, message) =>
          paymentRequired(price, req, code, message),
        );
        if ('status' in chain && 'body' in chain) return { answer: chain };
        const t = chain.touchstone;
        if (t.currency !== cur.code || t.exponent !== cur.exponent) {
          return {
            answer: paymentRequired(
              price,
              req,
              'currency_mismatch',
              `coins of ${t.currency}/${t.exponent} cannot pay a ${cur.code} price`,
            ),
          };
        }
        if (
          part.index === chain.acceptedIndex &&
          bytesEqual(fromBase64url(part.payword)!, chain.acceptedPayword)
        ) {
          replays++;
          continue;
        }
        let step = steps.get(part.chainId);
        if (!step) {
          step = chainStepper(fromBase64url(part.chainId)!);
          steps.set(part.chainId, step);
        }
        const state = { chainId: chain.chainId, index: chain.acceptedIndex, payword: chain.acceptedPayword };
        const verified = verifyPayment(state, part, t, now, { maxCoins: o.maxCoins ?? 1000, step });
        if (!verified.ok) {
          return {
            answer: paymentRequired(price, req, verified.error.code, verified.error.message),
          };
        }
        total += verified.value.amount;
        advances.push({
          chain,
          fromIndex: chain.acceptedIndex,
          fromPayword: chain.acceptedPayword,
          toIndex: part.index,
          payword: verified.value.state.payword,
        });
      }
      if (replays === parts.length) {
        const stored = (await o.store.receipt(parts[0]!.chainId, parts[0]!.index)) as
          | { receipt: Receipt; resource: string }
          | undefined;
        // The same payment for the same resource at the same price: served again, charged nothing.
        if (stored && stored.resource === resource && stored.receipt.amount === price.amount.toString()) {
          return { ticket: { advances: [], receipt: stored.receipt, resource, replay: true, release } };
        }
      }
      if (replays > 0)
        return {
          answer: paymentRequired(
            price,
            req,
            'payment_conflict',
            'some of these coins were already spent here',
          ),
        };
      if (total < price.amount) {
        return {
          answer: paymentRequired(
            price,
            req,
            'insufficient_payment',
            `paid ${total}, the price is ${price.amount}`,
          ),
        };
      }
      if (total > price.amount) {
        return {
          answer: paymentRequired(
            price,
            req,
            'overpayment',
            `paid ${total}, more than the price ${price.amount}; pay exactly`,
          ),
        };
      }
      const shares = price.payees
        ? allocate(
            money(total, cur),
            price.payees.map((p) => BigInt(p.share)),
          )
        : undefined;
      const receipt: Receipt = {
        v: 1,
        vendorId: o.vendorId,
        parts: advances.map((a) => ({
          chainId: a.chain.chainId,
          index: a.toIndex,
          coins: a.toIndex - a.fromIndex,
        })),
        amount: total.toString(),
        currency: cur.code,
        exponent: cur.exponent,
        ...(price.payees && shares
          ? {
              payees: price.payees.map((p, k) => ({
                payeeId: p.payeeId,
                share: p.share,
                amount: shares[k]!.minor.toString(),
              })),
            }
          : {}),
        ...(requestId(req) ? { requestId: requestId(req) } : {}),
        issuedAt: now,
      };
      const payees = payeesJson(price);
      // Signed only when asked (docs/protocol.md §9): one signature per paid request is not free.
      const given = wantsSignedReceipt(req) ? signMessage('receipt', receipt, o.signer) : receipt;
      return {
        ticket: { advances, receipt: given, resource, replay: false, release, ...(payees ? { payees } : {}) },
      };
    }
  }

  /**
   * Ends a paid request. `succeeded` false (handler status ≥ 400 or threw): nothing is charged. Otherwise
   * the coins are committed before the response leaves; a conflict (another instance took the same coins)
   * turns the response into a 409.
   */
  async function finish(
    ticket: Ticket,
    succeeded: boolean,
  ): Promise<{ headers: Record<string, string> } | { answer: GateAnswer }> {
    try {
      if (ticket.wallet) return await finishWallet(ticket.wallet, succeeded, ticket.payees);
      if (ticket.replay)
        return { headers: { [HEADERS.receipt.toLowerCase()]: encodeHeader(ticket.receipt) } };
      if (!succeeded) return { headers: {} };
      // A coin is accepted only under a valid lease: one that ran out while the handler ran charges nothing.
      if (ticket.advances.some((a) => !o.store.leaseValid(a.chain.chainId, clock()))) {
        return {
          answer: answer(
            'lease_lost',
            "this vendor's hold on the chain ended meanwhile; nothing was charged, retry",
          ),
        };
      }
      const committed = await o.store.commitAll(
        ticket.advances.map((a) => ({
          chainId: a.chain.chainId,
          fromIndex: a.fromIndex,
          fromPayword: a.fromPayword,
          toIndex: a.toIndex,
          payword: a.payword,
          ...(ticket.payees ? { payees: ticket.payees } : {}),
          receipt: { receipt: ticket.receipt, resource: ticket.resource },
        })),
      );
      if (!committed) {
        return {
          answer: answer(
            'payment_conflict',
            'these coins were accepted elsewhere at the same moment; nothing was charged',
          ),
        };
      }
      return { headers: { [HEADERS.receipt.toLowerCase()]: encodeHeader(ticket.receipt) } };
    } finally {
      ticket.release();
    }
  }

  /**
   * What a void the broker did not confirm leaves behind: nothing for a charge it never made, a pending
   * void for the redeemer's rounds after an outage, a refused one (owed to the customer) otherwise.
   */
  function voidNotDone(chargeId: string, amount: bigint, e: unknown): Promise<void> {
    if (e instanceof BrokerError && e.code === 'not_found') return Promise.resolve();
    const outage = !(e instanceof BrokerError) || e.status >= 500;
    return o.store.voidLater(chargeId, amount, outage ? 'void_pending' : 'void_refused');
  }

  /** A wallet charge whose response succeeded gets a receipt header; one whose response failed is voided. */
  async function finishWallet(
    charge: WalletCharge,
    succeeded: boolean,
    payees: string | undefined,
  ): Promise<{ headers: Record<string, string> }> {
    if (!succeeded) {
      for (let attempt = 0; ; attempt++) {
        try {
          await o.broker.walletVoid(charge.chargeId);
          break;
        } catch (e) {
          // A refusal will not change (kept on record as owed); an outage may: a few tries, then the
          // redeemer's rounds go on trying.
          if (e instanceof BrokerError && e.status < 500) {
            await voidNotDone(charge.chargeId, BigInt(charge.amount), e).catch(() => {});
            break;
          }
          if (attempt >= 2) {
            await voidNotDone(charge.chargeId, BigInt(charge.amount), e);
            break;
          }
          await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        }
      }
      return { headers: {} };
    }
    // For the dashboard; the charge stands whether or not this is written.
    await o.store
      .keepWalletCharge({
        chargeId: charge.chargeId,
        amount: BigInt(charge.amount),
        ...(payees ? { payees } : {}),
      })
      .catch(() => {});
    const receipt = {
      v: 1,
      vendorId: o.vendorId,
      chargeId: charge.chargeId,
      amount: charge.amount,
      currency: cur.code,
      exponent: cur.exponent,
      cap: charge.cap,
      period: charge.period,
      remaining: charge.remaining,
    };
    return {
      headers: {
        [WALLET_RECEIPT_HEADER.toLowerCase()]: Buffer.from(JSON.stringify(receipt)).toString('base64url'),
      },
    };
  }

  /**
   * For a person's browser (it asked for HTML) a refusal is a page, not JSON: what it costs, why it was
   * refused, and — where the vendor takes server-side wallets — a link to pay from the NetPay account.
   * Fits a 390-pixel phone screen; works without JavaScript. Undefined for answers better left as JSON.
   */
  function answerPage(a: GateAnswer): string | undefined {
    const t = a.body.terms as
      | {
          price: string;
          currency: string;
          exponent: number;
          description?: string;
          wallet?: { signIn: string };
        }
      | undefined;
    if (!t) return undefined;
    const price = `${formatAmount(money(BigInt(t.price), cur))} ${cur.code}`;
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(t.description ?? 'Pay to continue')}</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem}a.pay{display:block;text-align:center;background:#14532d;color:#fff;padding:.8rem;border-radius:.4rem;text-decoration:none;margin-top:1rem}.why{color:#7f1d1d}</style></head><body>
<h1>${escapeHtml(t.description ?? 'This costs a little')}</h1>
<p>Price: <strong>${escapeHtml(price)}</strong>, paid with NetPay.</p>
${a.body.code === 'payment_required' ? '' : `<p class="why" role="alert">${escapeHtml(a.body.message)}</p>`}
${t.wallet ? `<a class="pay" href="${escapeHtml(t.wallet.signIn)}">Pay from my NetPay account</a>` : '<p>Pay with a NetPay wallet (netpay fetch, or a browser wallet).</p>'}
</body></html>`;
  }

  return {
    begin,
    finish,
    answerPage,
    serveHandover,
    walletRoute,
    walletPath,
    terms,
    keyring: () => brokerKeyring(keys),
  };
}

export type Gate = ReturnType<typeof createGate>;
