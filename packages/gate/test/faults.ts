/**
 * Network faults (issue 18 §2): the real bank, broker, two vendors and two customers' wallets on loopback,
 * every link between them through a fault proxy (fault-proxy.ts): wallet→broker and vendor→broker (one
 * proxy), wallet→vendor, vendor→vendor and broker→vendor (each vendor's advertised URL), broker→bank. A seeded
 * workload of loads, sends, purchases, payments (with hand-overs), backups and redemptions runs through
 * drops, delays, duplicates, reorders and cuts, with the clients' own retry code; then refunds, unloads and
 * a settlement, still under faults. Afterwards, with the faults off, everything must have happened exactly
 * once: each balance at the bank and the broker is what the completed operations predict, every receipted
 * coin is credited once (I1), the chains and the ledger add up (I2–I4, the audit), and each keyed request
 * sent again gets its first answer. Used by faults.test.ts (a few seeds) and soak/faults.ts (many).
 */
import { createBankClient } from '@netpay/bank';
import type { TestDatabaseKind } from '@netpay/db/testing';
import { decodeHeader, isNetPayError, type Receipt, randomBytes, toBase64url } from '@netpay/protocol';
import { createPayFetch, memoryStorage, openWallet, recoverPayments, type Wallet } from '@netpay/wallet';
import { httpBank } from '../../broker/src/http-bank.ts';
import { ADMIN, startWorld } from '../../broker/test/world.ts';
import { outcomeUnknown } from '../../wallet/src/ops/retry.ts';
import {
  type FaultCounts,
  type FaultProxy,
  type FaultRates,
  NO_FAULTS,
  seededRandom,
  startFaultProxy,
  zeroCounts,
} from './fault-proxy.ts';
import { checkChains, checkI1, Receipts } from './invariants.ts';
import { type RunningVendor, startVendor } from './vendor-world.ts';

export const OP_KINDS = [
  'load',
  'unload',
  'send',
  'buy',
  'payment',
  'handover',
  'backup',
  'redemption',
  'refund',
  'settlement',
] as const;
export type OpKind = (typeof OP_KINDS)[number];
export type OpCounts = Record<OpKind, number>;
const zeroOps = () => Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as OpCounts;

/** The default mix: about one request in three meets a fault. */
export const DEFAULT_RATES: FaultRates = {
  drop: 0.08,
  delay: 0.08,
  duplicate: 0.06,
  reorder: 0.05,
  cut: 0.06,
};

const PRICE = 50n;
const COIN = 10n;
const BANK_FUNDS = 10_000_000n;

export async function startFaultWorld(kind: TestDatabaseKind, log?: (line: string) => void) {
  const counts = zeroCounts();
  let random = seededRandom(1);
  const proxies: FaultProxy[] = [];
  const proxy = async (name: string, target: () => string) => {
    const p = await startFaultProxy({
      name,
      target,
      random: () => random(),
      counts,
      ...(log ? { log } : {}),
    });
    proxies.push(p);
    return p;
  };
  const byName = (name: string) => proxies.find((p) => p.name === name)!;
  let bankUrl = '';
  const toBank = await proxy('broker→bank', () => bankUrl);
  const w = await startWorld(kind, { wrapBank: () => httpBank(createBankClient(toBank.url)) });
  bankUrl = w.bank.url;
  // Wallets and vendors reach the broker through one proxy: the vendors' terms name it to the wallets.
  const toBroker = await proxy('→broker', () => w.url);
  const vendors: RunningVendor[] = [];
  const vendorBanks = new Map<string, { id: string; token: string }>();
  for (const name of ['A', 'B']) {
    const acct = await w.bankClient.createAccount({ name: `vendor ${name}` });
    const v = await startVendor(w, kind, PRICE, {
      brokerUrl: toBroker.url,
      frontWith: (target) => proxy(`→vendor ${name}`, target),
      bankAccount: acct.id,
    });
    vendors.push(v);
    vendorBanks.set(v.id, { id: acct.id, token: acct.token });
  }
  return {
    w,
    vendors,
    vendorBanks,
    counts,
    walletBrokerUrl: toBroker.url,
    /** The proxies: in front of the broker, of the bank, and of each vendor (as advertised). */
    links: {
      broker: toBroker,
      bank: toBank,
      get vendorA() {
        return byName('→vendor A');
      },
      get vendorB() {
        return byName('→vendor B');
      },
    },
    /** Receipts of every payment any customer made, over all seeds (what I1 holds the vendors to). */
    receipts: new Receipts(),
    /** From now on the faults come from this seed, at these rates (NO_FAULTS: plain proxies). */
    faults(seed: number, rates: FaultRates) {
      random = seededRandom(seed);
      for (const p of proxies) p.setRates(rates);
    },
    async close() {
      for (const v of vendors) await v.close();
      for (const p of proxies) await p.close();
      await w.close();
    },
  };
}

export type FaultWorld = Awaited<ReturnType<typeof startFaultWorld>>;

/** A customer: a wallet reaching the broker through its proxy, a bank account, and what it did. */
export interface Actor {
  readonly name: string;
  readonly login: string;
  readonly customerId: string;
  readonly wallet: Wallet;
  readonly pay: ReturnType<typeof createPayFetch>;
  readonly bank: { account: string; token: string };
  loaded: bigint;
  unloaded: bigint;
  sentOut: bigint;
  received: bigint;
  /** What the broker answered to each completed load and send, by key (sent again at the end). */
  readonly answers: { kind: 'load' | 'unload' | 'send'; key: string; body: Record<string, string> }[];
}

export async function newActor(fw: FaultWorld, name: string): Promise<Actor> {
  const wallet = await openWallet({ storage: memoryStorage(), brokerUrl: fw.walletBrokerUrl });
  const login = `${name}-${toBase64url(randomBytes(4)).toLowerCase()}@example.com`;
  const reg = await wallet.register({ login, password: 'correct horse battery' });
  await wallet.verify(await fw.w.latestCode(login));
  const acct = await fw.w.bankClient.createAccount({ name, initialBalance: BANK_FUNDS });
  return {
    name,
    login,
    customerId: reg.customerId,
    wallet,
    pay: createPayFetch(wallet),
    bank: { account: acct.id, token: acct.token },
    loaded: 0n,
    unloaded: 0n,
    sentOut: 0n,
    received: 0n,
    answers: [],
  };
}

export interface SeedResult {
  readonly seed: number;
  readonly operations: OpCounts;
  readonly faultsInjected: FaultCounts;
  readonly violations: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Calls `op` until it completes, as a client that gives up on a call whose outcome is unknown and makes
 * it again later (the same key inside `op`). Refusals are thrown.
 */
async function untilDone<T>(what: string, op: () => Promise<T>, tries = 12): Promise<T> {
  for (let t = 1; ; t++) {
    try {
      return await op();
    } catch (e) {
      if (t >= tries || !outcomeUnknown(e)) throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
      await sleep(20 * t);
    }
  }
}

/** Runs one seed's workload and end phase under faults, then checks everything with the faults off. */
export async function runSeed(
  fw: FaultWorld,
  seed: number,
  o: { rates?: FaultRates; steps?: number } = {},
): Promise<SeedResult> {
  const before = { ...fw.counts };
  const ops = zeroOps();
  const violations: string[] = [];
  fw.faults(seed, NO_FAULTS);
  const actors = [await newActor(fw, `c${seed}a`), await newActor(fw, `c${seed}b`)];
  fw.faults(seed, o.rates ?? DEFAULT_RATES);
  const steps = o.steps ?? 12;
  try {
    await Promise.all([
      ...actors.map((a, k) => customerRun(fw, a, actors[1 - k]!, seededRandom(seed * 7919 + k), steps, ops)),
      vendorRun(fw, seededRandom(seed * 104_729), steps, ops),
    ]);
    await endPhase(fw, actors, ops);
  } catch (e) {
    violations.push(`seed ${seed}: an operation did not complete: ${(e as Error).message}`);
  }
  fw.faults(seed, NO_FAULTS);
  keepReceipts(fw, actors);
  if (violations.length === 0) {
    try {
      await checkExactlyOnce(fw, actors);
    } catch (e) {
      violations.push(`seed ${seed}: ${(e as Error).message}${await refusedClaims(fw)}`);
    }
  }
  const faultsInjected = zeroCounts();
  for (const k of Object.keys(faultsInjected) as (keyof FaultCounts)[])
    faultsInjected[k] = fw.counts[k] - before[k];
  return { seed, operations: ops, faultsInjected, violations };
}

/** One customer's seeded run: loads, sends to the other, purchases and payments at either vendor. */
async function customerRun(
  fw: FaultWorld,
  a: Actor,
  other: Actor,
  rnd: () => number,
  steps: number,
  ops: OpCounts,
) {
  await load(a, 5_000n + BigInt(Math.floor(rnd() * 5_000)), ops);
  for (let i = 0; i < steps; i++) {
    const x = rnd();
    if (x < 0.1) await load(a, 1_000n + BigInt(Math.floor(rnd() * 1_000)), ops);
    else if (x < 0.25) await send(a, other, 1n + BigInt(Math.floor(rnd() * 100)), ops);
    else await payment(fw, a, fw.vendors[rnd() < 0.5 ? 0 : 1]!, ops);
  }
}

/** The vendors' background work, run at random moments: backups and redemptions. */
async function vendorRun(fw: FaultWorld, rnd: () => number, steps: number, ops: OpCounts) {
  for (let i = 0; i < steps; i++) {
    await sleep(rnd() * 200);
    const v = fw.vendors[rnd() < 0.5 ? 0 : 1]!;
    if (rnd() < 0.5) ops.backup += (await v.redeemer.backup()).pushed;
    else {
      await v.redeemer.redeem().catch(() => undefined);
      ops.redemption++;
    }
  }
}

async function load(a: Actor, amount: bigint, ops: OpCounts) {
  const key = `load-${toBase64url(randomBytes(9))}`;
  const r = await untilDone('load', () => a.wallet.load(amount, a.bank, { key }));
  a.loaded += amount;
  a.answers.push({
    kind: 'load',
    key,
    body: { movementId: r.movementId, amount: String(r.amount), balance: String(r.balance) },
  });
  ops.load++;
}

/** Pays half the broker balance back to the bank (the balance read past the faults). */
async function unload(fw: FaultWorld, a: Actor, ops: OpCounts) {
  const me = await fw.w.call('GET', '/me', { token: a.wallet.sessionToken! });
  const amount = BigInt(me.body.balance) / 2n;
  if (amount === 0n) return;
  const key = `unload-${toBase64url(randomBytes(9))}`;
  const r = await untilDone('unload', () => a.wallet.unload(amount, a.bank.account, { key }));
  a.unloaded += amount;
  a.answers.push({
    kind: 'unload',
    key,
    body: { movementId: r.movementId, amount: String(r.amount), balance: String(r.balance) },
  });
  ops.unload++;
}

async function send(a: Actor, to: Actor, amount: bigint, ops: OpCounts) {
  // Only from money that is surely there (loaded, less what was sent, bought or paid).
  const spentOnCoins = a.wallet.chains().reduce((s, c) => s + BigInt(c.n) * c.coinValue, 0n);
  if (a.loaded - a.sentOut - spentOnCoins < amount) return;
  const key = `send-${toBase64url(randomBytes(9))}`;
  const r = await untilDone('send', () => a.wallet.send(to.login, amount, { key }));
  a.sentOut += amount;
  to.received += amount;
  a.answers.push({
    kind: 'send',
    key,
    body: { to: r.to, amount: String(r.amount), balance: String(r.balance) },
  });
  ops.send++;
}

/**
 * Buys a chain of 50 coins of 10. A purchase whose answer is lost is completed by `resume` (its chains are
 * written down as pending, with their key); one that failed before any chain was written down (the
 * broker's currency could not be fetched) is made again.
 */
async function buy(a: Actor, ops: OpCounts) {
  const pending = () => a.wallet.chains().some((c) => c.status === 'pending');
  const had = a.wallet.chains().length;
  await untilDone('buy', async () => {
    if (pending()) await a.wallet.resume();
    else if (a.wallet.chains().length === had) await a.wallet.buy([{ coinValue: COIN, n: 50 }]);
  });
  if (pending() || a.wallet.chains().length === had)
    throw new Error(`${a.name}: a purchase did not complete`);
  ops.buy++;
}

/** Settles the customer's payments left in flight, sending each again until the vendor answers. */
async function recover(a: Actor) {
  for (let t = 0; t < 40 && a.wallet.unsettled().length > 0; t++) {
    await recoverPayments(a.wallet);
    if (a.wallet.unsettled().length > 0) await sleep(50 * Math.min(t + 1, 10));
  }
  if (a.wallet.unsettled().length > 0) throw new Error(`${a.name}: payments still in flight`);
}

/** One paid request: paid again after a refusal, recovered after a lost answer, until a receipt. */
async function payment(fw: FaultWorld, a: Actor, v: RunningVendor, ops: OpCounts) {
  const codes: string[] = [];
  for (let attempt = 0; attempt < 16; attempt++) {
    const { coins } = await a.wallet.balance({ broker: false });
    if (coins < PRICE) await buy(a, ops);
    const lastVendor = new Map(a.wallet.chains().map((c) => [c.chainId, c.lastVendor]));
    const seen = a.wallet.history().length;
    try {
      await a.pay(`${v.advertised}/item`);
    } catch (e) {
      // Unreachable: recovered below. Out of coins: a chain was found out of step with its holder during
      // this call (an overpayment refused) and was the last one; the next attempt buys.
      if (!isNetPayError(e, 'vendor_unreachable', 'insufficient_coins'))
        throw new Error(
          `${(e as Error).message}; chains ${JSON.stringify(a.wallet.chains(), (_k, x) => (typeof x === 'bigint' ? String(x) : x))}; ${coins}`,
        );
    }
    await recover(a);
    const made = a.wallet.history().slice(seen);
    codes.push(...made.map((h) => h.code ?? h.status));
    const taken = made.find((h) => h.status === 'accepted');
    if (taken) {
      ops.payment++;
      ops.handover += taken.parts.filter((p) => {
        const before = lastVendor.get(p.chainId);
        return before !== null && before !== undefined && before !== v.id;
      }).length;
      return;
    }
    // The holder does not answer and its lease runs: wait it out (the world's clock), as Retry-After says.
    if (made.some((h) => h.code === 'chain_busy')) fw.w.advance(11_000);
    await sleep(30 * Math.min(attempt + 1, 10));
  }
  throw new Error(`${a.name}: a payment at ${v.id} did not complete in 16 attempts: ${codes.join(', ')}`);
}

/** Refunds (of every chain's rest) and a settlement (every vendor paid out), still under faults. */
async function endPhase(fw: FaultWorld, actors: Actor[], ops: OpCounts) {
  for (const a of actors) await recover(a);
  // Past every lease: a holder that does not answer the broker no longer keeps a refund pending.
  fw.w.advance(11_000);
  for (const a of actors) {
    const open = () => a.wallet.chains().filter((c) => c.status === 'active' && c.spent < c.n).length;
    for (let t = 0; t < 12 && open() > 0; t++) {
      const r = await a.wallet.refund().catch((e: unknown) => {
        if (!outcomeUnknown(e) && !isNetPayError(e, 'refund_pending')) throw e;
        return { chains: [] as string[] };
      });
      ops.refund += r.chains.length;
    }
    if (open() > 0) throw new Error(`${a.name}: chains left unrefunded`);
    await unload(fw, a, ops);
  }
  // Every coin redeemed before the settlement (a claim whose answer was lost is sent again next round).
  for (const v of fw.vendors) {
    // A round that found nothing to claim or resend: all redeemed.
    for (let t = 0; t < 12; t++) {
      const r = await v.redeemer.redeem().catch(() => undefined);
      ops.redemption++;
      if (r?.claims === 0) break;
      await sleep(30 * (t + 1));
    }
  }
  for (let t = 0; t < 8; t++) {
    const r = await fw.w.call('POST', '/admin/settlement/run', { token: ADMIN });
    if (r.status === 200) ops.settlement += Number(r.body.sent ?? 0);
    const [left] = await fw.w.db.query<{ n: bigint }>(
      "SELECT count(*)::int8 AS n FROM payouts WHERE status = 'pending'",
    );
    if (Number(left!.n) === 0) return;
    fw.w.advance(30_000 * 2 ** (t + 1));
  }
  throw new Error('payouts still pending after 8 settlement runs');
}

/** The receipt of an accepted payment as the wallet kept it. */
const receiptOfRecord = (r: unknown): Receipt | undefined => {
  if (typeof r === 'string') {
    const d = decodeHeader('receipt', r);
    return d.ok ? d.value : undefined;
  }
  return r && typeof r === 'object' && 'parts' in r ? (r as Receipt) : undefined;
};

/**
 * The vendors' refused claims, with the broker's codes, and what each side recorded for their chains
 * (what a failing seed's report shows).
 */
async function refusedClaims(fw: FaultWorld): Promise<string> {
  let out = '';
  const chains = new Set<string>();
  for (const v of fw.vendors) {
    const rows = await v.db.query<{ chain_id: string; from_index: number; to_index: number; code: string }>(
      "SELECT chain_id, from_index, to_index, code FROM vendor_claims WHERE status = 'refused'",
    );
    for (const r of rows) {
      out += `; ${v.id} claim ${r.chain_id} (${r.from_index}, ${r.to_index}] refused: ${r.code}`;
      chains.add(r.chain_id);
    }
  }
  for (const chainId of chains) {
    for (const v of fw.vendors) {
      const rows = await v.db.query<Record<string, unknown>>(
        'SELECT claim_id, from_index, to_index, earlier, status, code FROM vendor_claims WHERE chain_id = $1 ORDER BY created_at, from_index',
        [chainId],
      );
      out += `\n  ${v.id} claims: ${JSON.stringify(rows)}`;
    }
    const ranges = await fw.w.db.query<Record<string, unknown>>(
      'SELECT claim_id, party_id, kind, from_index, to_index FROM redemptions WHERE chain_id = $1 ORDER BY from_index',
      [chainId],
    );
    out += `\n  broker ranges: ${JSON.stringify(ranges)}`;
  }
  return out;
}

/** Adds the receipts of the customers' accepted payments to the world's (what I1 holds vendors to). */
export function keepReceipts(fw: FaultWorld, actors: Actor[]) {
  for (const a of actors) {
    for (const h of a.wallet.history()) {
      if (h.status !== 'accepted') continue;
      const r = receiptOfRecord(h.receipt);
      for (const p of r?.parts ?? []) {
        const k = `${h.vendorId} ${p.chainId}`;
        fw.receipts.coins.set(k, (fw.receipts.coins.get(k) ?? 0) + p.coins);
      }
    }
  }
}

/** With the faults off: every balance as exactly-once predicts, the invariants, the first answers. */
async function checkExactlyOnce(fw: FaultWorld, actors: Actor[]) {
  const { w } = fw;
  const fail = (m: string) => {
    throw new Error(m);
  };
  for (const a of actors) await checkCustomer(fw, a, fail);
  for (const v of fw.vendors) await checkI1(v, fw.receipts);
  const chainIds = actors.flatMap((a) => a.wallet.chains().map((c) => c.chainId));
  await checkChains(
    w,
    chainIds,
    actors.map((a) => a.customerId),
  );
  // Settlement: each vendor's bank account holds exactly what the broker credited it (the receipted coins
  // less the broker's fee), all of it paid out once.
  for (const v of fw.vendors) {
    const acct = fw.vendorBanks.get(v.id)!;
    const atBank = (await w.bankClient.getAccount(acct.token, acct.id)).balance;
    const [l] = await w.db.query<{ credited: bigint; balance: bigint }>(
      `SELECT (SELECT COALESCE(sum(amount), 0) FROM ledger_transfers WHERE credit_account = $1)::int8 AS credited,
              (SELECT balance FROM ledger_accounts WHERE id = $1)::int8 AS balance`,
      [`vendor:${v.id}`],
    );
    const [p] = await w.db.query<{ sent: bigint }>(
      "SELECT COALESCE(sum(amount), 0)::int8 AS sent FROM payouts WHERE party_id = $1 AND status = 'sent'",
      [v.id],
    );
    if (l!.balance !== 0n || atBank !== l!.credited || atBank !== p!.sent)
      fail(
        `${v.id}: ${atBank} at the bank, ${l!.credited} credited, ${p!.sent} paid out, ${l!.balance} left`,
      );
  }
}

/** One customer: bank and broker balances, coins spent as paid, and the first answers replayed. */
async function checkCustomer(fw: FaultWorld, a: Actor, fail: (m: string) => never) {
  const { w } = fw;
  if (a.wallet.unsettled().length > 0) fail(`${a.name}: payments in flight`);
  const chains = a.wallet.chains();
  const paidByChains = chains.reduce((s, c) => s + BigInt(c.spent) * c.coinValue, 0n);
  const paidByHistory = a.wallet
    .history()
    .filter((h) => h.status === 'accepted')
    .reduce((s, h) => s + BigInt(h.amount), 0n);
  if (paidByChains !== paidByHistory)
    fail(`${a.name}: coins spent ${paidByChains}, payments accepted ${paidByHistory}`);
  const bank = (await w.bankClient.getAccount(a.bank.token, a.bank.account)).balance;
  if (bank !== BANK_FUNDS - a.loaded + a.unloaded)
    fail(`${a.name}: bank balance ${bank}, loaded ${a.loaded} and unloaded ${a.unloaded} once each`);
  const me = await w.call('GET', '/me', { token: a.wallet.sessionToken! });
  const expected = a.loaded - a.unloaded - a.sentOut + a.received - paidByHistory;
  if (BigInt(me.body.balance) !== expected)
    fail(`${a.name}: broker balance ${me.body.balance}, exactly-once predicts ${expected}`);
  for (const x of a.answers) {
    const { path, body, want } = {
      load: {
        path: '/me/load',
        body: { amount: x.body.amount, bankAccount: a.bank.account, bankToken: a.bank.token },
        want: 200,
      },
      unload: { path: '/me/unload', body: { amount: x.body.amount, bankAccount: a.bank.account }, want: 200 },
      send: { path: '/me/transfers', body: { to: x.body.to, amount: x.body.amount }, want: 201 },
    }[x.kind];
    const again = await w.call('POST', path, { token: a.wallet.sessionToken!, key: x.key, body });
    if (again.status !== want || JSON.stringify(pick(again.body, x.body)) !== JSON.stringify(x.body))
      fail(
        `${a.name}: ${x.kind} ${x.key} sent again: ${again.status} ${JSON.stringify(again.body)}, first ${JSON.stringify(x.body)}`,
      );
  }
}

const pick = (body: Record<string, unknown>, like: Record<string, string>) =>
  Object.fromEntries(Object.keys(like).map((k) => [k, body[k]]));
