/**
 * The peer's own wallet (docs/p2p.md §3): client-side chains bought at the CIS with the peer's key, spent
 * a coin or a few per chunk. A payment part carries the chain's touchstone and the peer's own signed index
 * (`lastIndex`, handed to the seller), so a seller checks it offline — unless that seller is known to hold
 * the chain exactly where the part starts (it took the chain's previous payment, `accepted`): then a plain
 * part will do (docs/p2p.md §3), sparing the signature here and the full check there.
 *
 * No payword is ever handed out twice, even across a crash: paywords are taken from a chain's traversal a
 * batch at a time (`RESERVE`), and the batch is written down (traversal, highest index, its payword)
 * before any of it is handed out. After a crash the batch's unused coins are skipped — at most RESERVE
 * coins of a chain lost, never a coin spent twice; a clean `close` writes down where each chain stopped
 * and the paywords that never left, so the next open goes on from there. One durable write per batch
 * instead of one per chunk keeps paying cheap next to moving 256 KiB. A write that fails undoes its change
 * in memory before anything of it is handed out, so the wallet goes on as the document on disk says.
 *
 * A purchase the CIS refuses outright (a 4xx such as `fairness_limit`) is dropped from the document: its
 * chains were never sold. One whose answer was lost stays pending and is asked again under the same key.
 *
 * Each seller gets a chain of its own where the wallet has one (`lastSeller`): interleaving sellers on one
 * chain would cut it into many holdings, each a claim (and a fee) of its own.
 */
import { unanswered } from '@netpay/api';
import {
  ChainTraversal,
  type Ed25519Signer,
  fromBase64url,
  NetPayError,
  type PaymentPart,
  randomBytes,
  signMessage,
  type Touchstone,
  toBase64url,
} from '@netpay/protocol';
import { loadDocument, type PeerChain, type PeerWalletDocument, saveDocument } from './document.ts';

/** Paywords taken from a traversal per durable write. */
export const RESERVE = 64;

/** What the wallet needs from the CIS: a purchase of client-side chains, idempotent under `key`. */
export type BuyChains = (
  body: { chains: { coinValue: string; n: number; chainId: string; root: string }[] },
  key: string,
) => Promise<{ chains: { chainId: string; touchstone: Touchstone }[] }>;

export interface PeerWalletOptions {
  /** The wallet's file (JSON, written atomically). */
  readonly path: string;
  readonly peerId: string;
  readonly signer: Ed25519Signer;
  readonly buy: BuyChains;
  readonly clock?: () => number;
}

/** A chain in use: the stored part, and the paywords reserved for it but not handed out yet. */
interface Live {
  readonly stored: PeerChain;
  traversal: ChainTraversal | undefined;
  /** Reserved paywords, W(spent + 1) … W(reserved). */
  ready: Uint8Array[];
  /** W(spent): the payword at the point a payment's lastIndex states. */
  last: Uint8Array;
  spent: number;
  /** The seller that took this chain's latest accepted payment, and the index it left the chain at. */
  heldBy: { seller: string; index: number } | undefined;
}

/**
 * Codes of a 4xx that do not say the purchase was refused: the request was not looked at (signature,
 * an answer that is not the CIS's), is still running, or its chain exists (so it may have been sold).
 */
const UNDECIDED = new Set(['request_in_progress', 'idempotency_conflict', 'chain_exists', 'bad_answer']);

/** True when the CIS refused a purchase outright, so none of its chains was sold. */
function refusedPurchase(e: unknown): boolean {
  if (!(e instanceof NetPayError) || unanswered(e) || e.status === undefined) return false;
  if (e.status < 400 || e.status >= 500 || [401, 404, 408, 429].includes(e.status)) return false;
  return !UNDECIDED.has(e.code);
}

export async function openPeerWallet(o: PeerWalletOptions) {
  const clock = o.clock ?? Date.now;
  const doc: PeerWalletDocument = (await loadDocument(o.path)) ?? { format: 1, peerId: o.peerId, chains: [] };
  if (doc.peerId !== o.peerId)
    throw new NetPayError('wallet_storage', `${o.path} is the wallet of peer ${doc.peerId}, not ${o.peerId}`);
  const live = new Map<string, Live>();
  for (const c of doc.chains) if (c.status === 'active') live.set(c.chainId, resume(c));
  // Writes one after another; a failed one is reported to its caller and does not stop the next.
  let saving: Promise<void> = Promise.resolve();
  const save = () => {
    const run = saving.then(() => saveDocument(o.path, doc));
    saving = run.catch(() => {});
    return run;
  };
  let closing: Promise<void> | undefined;
  await finishPending();
  // A clean close's record is good for one open: once anything is paid it no longer says where chains are.
  if (doc.chains.some((c) => c.closed)) {
    for (const c of doc.chains) c.closed = null;
    await save();
  }

  /** Purchases written down but not confirmed (a crash, a lost answer): sent again under the same key. */
  async function finishPending() {
    const keys = new Set(doc.chains.filter((c) => c.status === 'pending').map((c) => c.buyKey));
    for (const key of keys) {
      // Refused outright: dropped by `confirm`, nothing was sold, and the wallet opens without them.
      await confirm(doc.chains.filter((c) => c.status === 'pending' && c.buyKey === key)).catch((e) => {
        if (!refusedPurchase(e)) throw e;
      });
    }
  }

  /** Sends a purchase written down as pending; a refusal drops its chains from the document and is rethrown. */
  async function confirm(chains: PeerChain[]) {
    let got: Awaited<ReturnType<BuyChains>>;
    try {
      got = await o.buy(
        {
          chains: chains.map((c) => ({ coinValue: c.coinValue, n: c.n, chainId: c.chainId, root: c.root })),
        },
        chains[0]!.buyKey,
      );
    } catch (e) {
      if (refusedPurchase(e)) {
        doc.chains = doc.chains.filter((c) => !chains.includes(c));
        // If this write fails they stay pending on disk: the next open asks again and drops them then.
        await save().catch(() => {});
      }
      throw e;
    }
    for (const c of chains) {
      const t = got.chains.find((x) => x.chainId === c.chainId)?.touchstone;
      if (!t) throw new NetPayError('wallet_damaged', `the CIS did not return chain ${c.chainId}`);
      c.touchstone = t;
      c.status = 'active';
      live.set(c.chainId, resume(c));
    }
    // Should this write fail, the chains are still usable: the first batch reserved writes them down.
    await save();
  }

  /** Buys `count` chains of `n` coins worth `coinValue` each (the seed never leaves this wallet). */
  async function buy(coinValue: bigint, n: number, count = 1) {
    const key = `p2p-buy-${toBase64url(randomBytes(16))}`;
    const made: PeerChain[] = [];
    for (let k = 0; k < count; k++) {
      const seed = randomBytes(32);
      const id = randomBytes(16);
      const { root } = ChainTraversal.create(seed, id, n);
      const chainId = toBase64url(id);
      made.push({
        chainId,
        coinValue: coinValue.toString(),
        n,
        seed: toBase64url(seed),
        root: toBase64url(root),
        status: 'pending',
        buyKey: key,
        touchstone: null,
        reserved: 0,
        lastPayword: toBase64url(root),
        closed: null,
        traversal: null,
        lastSeller: null,
        sellers: [],
      });
    }
    doc.chains.push(...made);
    try {
      await save(); // the seeds are on disk before the purchase is sent
    } catch (e) {
      doc.chains = doc.chains.filter((c) => !made.includes(c));
      throw e;
    }
    await confirm(made);
    return made.map((c) => c.chainId);
  }

  /**
   * A payment of exactly `amount` to `seller`: one part per chain used, each with the chain's touchstone
   * and this peer's index handed to the seller (plain where the seller holds the chain there, see
   * `accepted`). Throws `insufficient_coins` when the chains cannot make it.
   */
  function pay(seller: string, amount: bigint): Promise<{ v: 1; parts: PaymentPart[] }> {
    // One payment at a time: each takes its coins from where the one before left the chain.
    if (closing) return Promise.reject(closedError());
    const run = turn.then(async () => {
      const picked = pick(seller, amount);
      if (!picked)
        throw new NetPayError(
          'insufficient_coins',
          `coins worth exactly ${amount} are not in this wallet; buy more`,
        );
      const parts: PaymentPart[] = [];
      for (const { chain, coins } of picked) parts.push(await take(chain, coins, seller));
      return { v: 1 as const, parts };
    });
    turn = run.catch(() => {});
    return run;
  }
  let turn: Promise<unknown> = Promise.resolve();

  /** Chains that make `amount`: the seller's own chain first, then unused ones, largest coins first. */
  function pick(seller: string, amount: bigint) {
    const rank = (l: Live) => (l.stored.lastSeller === seller ? 0 : l.spent === 0 ? 1 : 2);
    // Never back to a seller the chain has left (document.ts, `sellers`).
    const usable = [...live.values()]
      .filter((l) => l.spent < l.stored.n)
      .filter((l) => l.stored.lastSeller === seller || !l.stored.sellers.includes(seller))
      .sort((a, b) => {
        const va = BigInt(a.stored.coinValue);
        const vb = BigInt(b.stored.coinValue);
        if (va !== vb) return va > vb ? -1 : 1;
        return rank(a) - rank(b);
      });
    // One chain that makes the amount alone first: a part from a second chain would move that chain too.
    const whole = usable.find((l) => {
      const v = BigInt(l.stored.coinValue);
      return amount % v === 0n && amount / v <= BigInt(Math.min(l.stored.n - l.spent, 1000));
    });
    // A coin count, at most 1,000 (checked just above), not an amount.
    if (whole) return [{ chain: whole, coins: Number(amount / BigInt(whole.stored.coinValue)) }];
    let rest = amount;
    const out: { chain: Live; coins: number }[] = [];
    for (const l of usable) {
      const v = BigInt(l.stored.coinValue);
      const coins = Math.min(Number(rest / v), l.stored.n - l.spent, 1000);
      if (coins <= 0) continue;
      out.push({ chain: l, coins });
      rest -= BigInt(coins) * v;
      if (rest === 0n) return out;
    }
    return undefined;
  }

  /**
   * Takes `coins` coins from a chain for `seller`, first writing down (durably) more paywords when needed
   * and the seller when it is new to the chain; nothing is taken if either write fails.
   */
  async function take(l: Live, coins: number, seller: string): Promise<PaymentPart> {
    const from = { index: l.spent, payword: l.last };
    if (l.ready.length < coins) await reserve(l, Math.max(RESERVE, coins - l.ready.length));
    if (l.stored.lastSeller !== seller) await moveTo(l.stored, seller);
    const used = l.ready.splice(0, coins);
    l.spent += coins;
    l.last = used.at(-1)!;
    const payword = toBase64url(l.last);
    // Every part carries this peer's index at its own point: the seller's evidence that it was paid this far.
    const paidIndex = indexFor(l, { index: l.spent, payword }, seller);
    const plain = { chainId: l.stored.chainId, index: l.spent, payword, paidIndex };
    // The seller took the payment that brought the chain here: it holds it at `from`, a plain part will do.
    if (l.heldBy?.seller === seller && l.heldBy.index === from.index) return plain;
    const lastIndex = indexFor(l, { index: from.index, payword: toBase64url(from.payword) }, seller);
    return { ...plain, touchstone: l.stored.touchstone!, lastIndex };
  }

  /** This peer's signed index on a chain at `at`, handed to `seller`. */
  function indexFor(l: Live, at: { index: number; payword: string }, seller: string) {
    return signMessage(
      'index',
      {
        v: 1,
        chainId: l.stored.chainId,
        ...at,
        vendorId: o.peerId,
        handedTo: seller,
        issuedAt: Math.floor(clock() / 1000),
      },
      o.signer,
    );
  }

  /** Writes down that the chain goes to `seller` now, before it is shown there: it never goes back. */
  async function moveTo(c: PeerChain, seller: string) {
    const before = { lastSeller: c.lastSeller, sellers: c.sellers };
    c.lastSeller = seller;
    if (!c.sellers.includes(seller)) c.sellers = [...c.sellers, seller];
    try {
      await save();
    } catch (e) {
      Object.assign(c, before);
      throw e;
    }
  }

  /**
   * Steps the chain's traversal `count` paywords on (as far as the chain goes) and writes it down; the
   * paywords are ready to hand out only once written. A failed write puts the chain back where it was.
   */
  async function reserve(l: Live, count: number) {
    const c = l.stored;
    const before = { reserved: c.reserved, lastPayword: c.lastPayword, traversal: c.traversal };
    const t = traversalOf(l);
    const batch: Uint8Array[] = [];
    try {
      for (let k = 0; k < count && c.reserved < c.n; k++) {
        const next = t.next();
        if (!next || next.index !== c.reserved + 1)
          throw new NetPayError('wallet_damaged', `chain ${c.chainId} is out of step with its traversal`);
        batch.push(next.payword);
        c.reserved = next.index;
        c.lastPayword = toBase64url(next.payword);
      }
      c.traversal = t.toJSON();
      await save(); // before any of these paywords leaves
    } catch (e) {
      Object.assign(c, before);
      l.traversal = undefined; // read again from the stored state it was stepped from
      throw e;
    }
    l.ready.push(...batch);
  }

  function traversalOf(l: Live): ChainTraversal {
    if (l.traversal) return l.traversal;
    const c = l.stored;
    if (c.traversal) {
      const parsed = ChainTraversal.fromJSON(c.traversal);
      if (!parsed.ok) throw new NetPayError('wallet_damaged', `chain ${c.chainId}: ${parsed.error.message}`);
      l.traversal = parsed.value;
    } else {
      l.traversal = ChainTraversal.create(fromBase64url(c.seed)!, fromBase64url(c.chainId)!, c.n).traversal;
    }
    return l.traversal;
  }

  /**
   * `seller` took `payment` (answered it with the chunk): it now holds each of its chains at the part's
   * index, so the chain's next payment to it, if nothing was paid from the chain meanwhile, is a plain part.
   * Without this call every part carries its proof; a payment refused or lost is simply not reported.
   */
  function accepted(seller: string, payment: { parts: readonly PaymentPart[] }) {
    for (const part of payment.parts) {
      const l = live.get(part.chainId);
      if (l && part.index > (l.heldBy?.index ?? 0)) l.heldBy = { seller, index: part.index };
    }
  }

  /**
   * Waits for the payments under way, then writes down where each chain stopped and the paywords it
   * reserved that never left, so the next open goes on from there. Pays nothing after.
   */
  function close(): Promise<void> {
    closing ??= turn.then(async () => {
      for (const l of live.values()) {
        l.stored.closed = {
          spent: l.spent,
          payword: toBase64url(l.last),
          unsent: l.ready.map((p) => toBase64url(p)),
        };
      }
      await save();
    });
    return closing;
  }

  return {
    buy,
    pay,
    accepted,
    close,
    /** Coins not spent yet, in minor units, over every active chain. */
    coins(): bigint {
      let total = 0n;
      for (const l of live.values()) total += BigInt(l.stored.n - l.spent) * BigInt(l.stored.coinValue);
      return total;
    },
    chains: () =>
      [...live.values()].map((l) => ({
        chainId: l.stored.chainId,
        coinValue: BigInt(l.stored.coinValue),
        n: l.stored.n,
        spent: l.spent,
      })),
  };
}

/**
 * A stored chain taken up at open: where a clean close left it, or else (a crash) at `reserved`, every
 * reserved coin counted as spent since it may have left before the crash.
 */
function resume(c: PeerChain): Live {
  const at = { stored: c, traversal: undefined, heldBy: undefined };
  if (!c.closed) return { ...at, ready: [], last: fromBase64url(c.lastPayword)!, spent: c.reserved };
  const { spent, payword, unsent } = c.closed;
  // The unsent paywords run from W(spent + 1) to W(reserved), where the stored traversal stands.
  if (spent + unsent.length !== c.reserved || (unsent.at(-1) ?? payword) !== c.lastPayword)
    throw new NetPayError(
      'wallet_damaged',
      `chain ${c.chainId}: its record of the last close is out of step`,
    );
  return { ...at, ready: unsent.map((p) => fromBase64url(p)!), last: fromBase64url(payword)!, spent };
}

const closedError = () => new NetPayError('wallet_closed', 'this wallet was closed; open it again to pay');

export type PeerWallet = Awaited<ReturnType<typeof openPeerWallet>>;
