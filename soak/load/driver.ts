/**
 * One load driver process (issue 18 §5): it drives several customers' wallets (@netpay/wallet with its
 * paying fetch) against the vendors, so the load comes from processes other than the servers'. Its
 * settings come as JSON in LOAD_DRIVER (DriverSettings). It prints `{"ready":…}` once every wallet is
 * registered, loaded and has bought its chains, waits for a line on stdin, pays for `seconds`, then prints
 * `{"result":…}` (DriverResult) and exits.
 *
 * Each wallet pays one resource at a time, in visits: a vendor picked at random, 1–8 paid requests there,
 * then another vendor (so chains are handed over between vendors as customers move). Every request is a
 * payment of one coin of 10; its latency is the paying fetch's, terms and hand-over included.
 */
import { createInterface } from 'node:readline';
import { createBankClient } from '@netpay/bank/client';
import { createPayFetch, openWallet, type Wallet, type WalletStorage } from '@netpay/wallet';

export interface DriverSettings {
  readonly brokerUrl: string;
  readonly bankUrl: string;
  readonly vendors: readonly { id: string; url: string }[];
  /** Login prefix, unique per driver and run. */
  readonly prefix: string;
  readonly wallets: number;
  /** Chains bought per wallet at the start, and coins (of 10) in each; more are bought when they run low. */
  readonly chains: number;
  readonly coins: number;
  readonly seconds: number;
}

export interface DriverResult {
  readonly payments: number;
  /** Latency of each paid request, ms. */
  readonly latencies: number[];
  /** Failed requests by cause ("status code" or the thrown error's code). */
  readonly errors: Record<string, number>;
  /** Receipted amount per vendor id (minor units, decimal strings): what the vendors owe these wallets' coins. */
  readonly receipted: Record<string, string>;
  /** Every chain these wallets bought (to check each chain's account at the broker). */
  readonly chainIds: string[];
  /** ms from the start signal to the last answer. */
  readonly ms: number;
}

const PRICE = 10n;

/**
 * The wallet document kept in this process only, written by reference (no copy per change): a load
 * driver's wallets need no durability, and copying a growing history on every payment would load the
 * driver, not the servers.
 */
function volatileStorage(): WalletStorage {
  let kept: Parameters<WalletStorage['save']>[0] | undefined;
  return {
    load: async () => kept,
    save: async (state) => {
      kept = state;
    },
  };
}

async function outboxCode(brokerUrl: string, login: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const r = await fetch(`${brokerUrl}/dev/outbox?recipient=${encodeURIComponent(login)}`);
    const body = (await r.json()) as { messages: { body: string }[] };
    const code = /(\d{6})/.exec(body.messages.at(-1)?.body ?? '')?.[1];
    if (code) return code;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no device code for ${login}`);
}

/** A customer with money at the broker and `chains` chains of `coins` coins of 10 in its wallet. */
async function newWallet(s: DriverSettings, k: number): Promise<Wallet> {
  const login = `${s.prefix}-${k}@example.com`;
  const wallet = await openWallet({ storage: volatileStorage(), brokerUrl: s.brokerUrl });
  await wallet.register({ login, password: 'a long load-test password', deviceName: 'load' });
  await wallet.verify(await outboxCode(s.brokerUrl, login));
  const value = PRICE * BigInt(s.coins) * BigInt(s.chains) * 4n;
  const account = await createBankClient(s.bankUrl).createAccount({ name: login, initialBalance: value });
  await wallet.load(value, { account: account.id, token: account.token });
  await wallet.buy(Array.from({ length: s.chains }, () => ({ coinValue: PRICE, n: s.coins })));
  return wallet;
}

/** A refusal's code and the gist of its message (ids and numbers left out, so like causes count together). */
const codeOf = (text: string) => {
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    const gist = String(body.message ?? '')
      .replace(/\b(shop|vendor|chain|key|proc)[-_][\w-]+/g, '$1 …')
      .replace(/\d+/g, 'N')
      .slice(0, 90);
    return `${String(body.code ?? '')}: ${gist}`;
  } catch {
    return '';
  }
};

const causeOf = (e: unknown) => String((e as { code?: unknown })?.code ?? (e as Error)?.message ?? e);

/** One wallet paying until `end` (ms since epoch), into the shared counters. */
async function payLoop(s: DriverSettings, wallet: Wallet, end: number, out: Counters) {
  const payFetch = createPayFetch(wallet);
  let vendor = s.vendors[0]!;
  let left = 0;
  while (Date.now() < end) {
    if (left-- <= 0) {
      vendor = s.vendors[Math.floor(Math.random() * s.vendors.length)]!;
      left = Math.floor(Math.random() * 8);
    }
    if ((await wallet.balance({ broker: false })).coins < PRICE * 2n)
      await wallet.buy([{ coinValue: PRICE, n: s.coins }]);
    const url = `${vendor.url}/item-${1 + Math.floor(Math.random() * 4)}.txt`;
    const t0 = performance.now();
    try {
      const res = await payFetch(url);
      const text = await res.text();
      const ms = performance.now() - t0;
      if (res.netpay?.receipt)
        out.receipted.set(vendor.id, (out.receipted.get(vendor.id) ?? 0n) + res.netpay.paid);
      if (res.status === 200 && res.netpay?.paid === PRICE && res.netpay.vendorId === vendor.id) {
        out.latencies.push(Math.round(ms * 100) / 100);
      } else {
        out.count(`${res.status} ${codeOf(text)}`.trim());
      }
    } catch (e) {
      out.count(causeOf(e));
    }
  }
}

interface Counters {
  latencies: number[];
  receipted: Map<string, bigint>;
  errors: Map<string, number>;
  count(cause: string): void;
}

async function main() {
  const s = JSON.parse(process.env.LOAD_DRIVER ?? '') as DriverSettings;
  const wallets: Wallet[] = [];
  // A few at a time: registering hashes a password at the broker.
  for (let k = 0; k < s.wallets; k += 5) {
    const batch = Array.from({ length: Math.min(5, s.wallets - k) }, (_, j) => newWallet(s, k + j));
    wallets.push(...(await Promise.all(batch)));
  }
  process.stdout.write(`${JSON.stringify({ ready: wallets.length })}\n`);
  const go = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => go.once('line', () => resolve()));
  go.close();
  const started = Date.now();
  const errors = new Map<string, number>();
  const out: Counters = {
    latencies: [],
    receipted: new Map(),
    errors,
    count: (cause) => errors.set(cause, (errors.get(cause) ?? 0) + 1),
  };
  await Promise.all(wallets.map((w) => payLoop(s, w, started + s.seconds * 1000, out)));
  const result: DriverResult = {
    payments: out.latencies.length,
    latencies: out.latencies,
    errors: Object.fromEntries(errors),
    receipted: Object.fromEntries([...out.receipted].map(([id, v]) => [id, v.toString()])),
    chainIds: wallets.flatMap((w) => w.chains().map((c) => c.chainId)),
    ms: Date.now() - started,
  };
  process.stdout.write(`${JSON.stringify({ result })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`load driver: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
