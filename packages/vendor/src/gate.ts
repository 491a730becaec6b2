import {
  allocate,
  brokerKeyring,
  bytesEqual,
  type ChainStep,
  chainStepper,
  decodeHeader,
  type Ed25519Signer,
  encodeHeader,
  fromBase64url,
  HEADERS,
  currency as makeCurrency,
  money,
  type PayeeShare,
  type Receipt,
  verifyPayment,
  verifyTouchstone,
} from '@netpay/protocol';
import { type BrokerClient, BrokerError } from './broker-client.ts';
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
  readonly body: { code: string; message: string; terms?: unknown; protocolCode?: string };
}

/** Every code the gate answers with, and its status. */
export const GATE_ERROR_STATUS = {
  payment_required: 402,
  payment_malformed: 400,
  payment_invalid: 402,
  insufficient_payment: 402,
  overpayment: 402,
  wrong_currency: 402,
  chain_not_held: 409,
  payment_conflict: 409,
  broker_unavailable: 503,
} as const;
export type GateErrorCode = keyof typeof GATE_ERROR_STATUS;

interface Ticket {
  readonly advances: { chain: HeldChain; fromIndex: number; toIndex: number; payword: Uint8Array }[];
  readonly receipt: Receipt;
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
}

/**
 * The framework-agnostic payment gate. `begin` answers an unpaid request with 402 and terms, or verifies
 * its payment (one hash per coin) and reserves the chains; the handler then runs with its response held
 * back; `finish` records the coins durably (group commit) if the handler succeeded and returns the receipt
 * header, or releases the reservation if it failed — a failed handler is never charged.
 */
export function createGate(o: GateOptions) {
  const clock = o.clock ?? Date.now;
  const cur = makeCurrency(o.currency.code, o.currency.exponent);
  const locks = new Map<string, Promise<void>>();
  const steps = new Map<string, ChainStep>();
  let keys: Awaited<ReturnType<BrokerClient['keys']>> = [];

  const answer = (
    code: GateErrorCode,
    message: string,
    extra: { headers?: Record<string, string>; terms?: unknown; protocolCode?: string } = {},
  ): GateAnswer => ({
    status: GATE_ERROR_STATUS[code],
    headers: extra.headers ?? {},
    body: {
      code,
      message,
      ...(extra.terms ? { terms: extra.terms } : {}),
      ...(extra.protocolCode ? { protocolCode: extra.protocolCode } : {}),
    },
  });

  function terms(price: Price, req: GateRequest) {
    return {
      v: 1,
      vendorId: o.vendorId,
      resource: `${req.method} ${req.url}`,
      price: price.amount.toString(),
      currency: cur.code,
      exponent: cur.exponent,
      brokers: [{ url: o.brokerUrl }],
      ...(price.payees ? { payees: price.payees } : {}),
      ...(price.description ? { description: price.description } : {}),
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

  async function brokerKey(brokerId: string, keyId: string): Promise<Uint8Array | undefined> {
    const find = () => keys.find((k) => k.brokerId === brokerId && k.keyId === keyId)?.publicKey;
    if (!find()) keys = await o.broker.keys();
    return find();
  }

  /** The chain as this vendor holds it, taking it through the broker's directory the first time. */
  async function acquire(chainId: string): Promise<HeldChain | GateAnswer> {
    const held = await o.store.get(chainId);
    if (held?.status === 'held') return held;
    let claim: Awaited<ReturnType<BrokerClient['claim']>>;
    try {
      claim = await o.broker.claim(chainId);
    } catch (e) {
      if (e instanceof BrokerError && e.status < 500)
        return answer('payment_invalid', `the broker refused this chain: ${e.message}`);
      return answer('broker_unavailable', 'the broker cannot be reached to check this chain; try again');
    }
    if (!claim.granted) {
      return answer(
        'chain_not_held',
        `this chain is held by ${claim.holder.id}; hand-over is not available here yet`,
      );
    }
    const t = claim.touchstone;
    const key = await brokerKey(t.brokerId, t.keyId);
    const checked = verifyTouchstone(
      t,
      (b, k) => (b === t.brokerId && k === t.keyId ? key : undefined),
      Math.floor(clock() / 1000),
    );
    if (!checked.ok) return answer('payment_invalid', checked.error.message);
    const start = claim.backup
      ? { index: claim.backup.index, payword: fromBase64url(claim.backup.payword)! }
      : { index: 0, payword: fromBase64url(t.root)! };
    return o.store.hold(t, start);
  }

  async function begin(req: GateRequest, price: Price): Promise<{ ticket: Ticket } | { answer: GateAnswer }> {
    const raw = req.headers[HEADERS.payment.toLowerCase()];
    const header = Array.isArray(raw) ? raw[0] : raw;
    if (header === undefined) return { answer: paymentRequired(price, req) };
    const decoded = decodeHeader('payment', header);
    if (!decoded.ok) return { answer: answer('payment_malformed', decoded.error.message) };
    const parts = decoded.value.parts;
    const release = await lockChains(parts.map((p) => p.chainId));
    try {
      const now = Math.floor(clock() / 1000);
      const advances: Ticket['advances'] = [];
      let total = 0n;
      let replays = 0;
      for (const part of parts) {
        const chain = await acquire(part.chainId);
        if ('status' in chain && 'body' in chain) {
          release();
          return { answer: chain };
        }
        const t = chain.touchstone;
        if (t.currency !== cur.code || t.exponent !== cur.exponent) {
          release();
          return {
            answer: answer(
              'wrong_currency',
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
          release();
          return {
            answer: answer('payment_invalid', verified.error.message, { protocolCode: verified.error.code }),
          };
        }
        total += verified.value.amount;
        advances.push({
          chain,
          fromIndex: chain.acceptedIndex,
          toIndex: part.index,
          payword: verified.value.state.payword,
        });
      }
      if (replays === parts.length) {
        const stored = await o.store.receipt(parts[0]!.chainId, parts[0]!.index);
        if (stored) return { ticket: { advances: [], receipt: stored as Receipt, replay: true, release } };
      }
      if (replays > 0) {
        release();
        return { answer: answer('payment_conflict', 'some coins of this payment were already spent here') };
      }
      if (total < price.amount) {
        release();
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
        release();
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
        issuedAt: now,
      };
      return { ticket: { advances, receipt, replay: false, release } };
    } catch (e) {
      release();
      throw e;
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
      if (ticket.replay)
        return { headers: { [HEADERS.receipt.toLowerCase()]: encodeHeader(ticket.receipt) } };
      if (!succeeded) return { headers: {} };
      const committed = await o.store.commitAll(
        ticket.advances.map((a) => ({
          chainId: a.chain.chainId,
          fromIndex: a.fromIndex,
          toIndex: a.toIndex,
          payword: a.payword,
          receipt: ticket.receipt,
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

  return { begin, finish, terms, keyring: () => brokerKeyring(keys) };
}

export type Gate = ReturnType<typeof createGate>;
