/**
 * The crash run of issue 18 §1: customers paying several vendors (with hand-overs, as a chain spent at one
 * vendor is next spent at another) and refunding, while the broker, a vendor or a wallet command is killed
 * with SIGKILL at seeded points. Every service is a `netpay … start` process, started again on the same
 * port and data folder after each kill; every wallet operation is a `netpay wallet …` / `netpay fetch`
 * command whose next run finishes what a killed one left (recoverPayments, resumed purchases, refunds
 * asked again). Afterwards every customer refunds what is left, every vendor redeems, and `check.ts` says
 * whether the money invariants hold. The seed decides the workload and the kill points; the kills land
 * wherever the processes are at that moment, so a replay takes the same decisions, not the same timings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBankClient } from '@netpay/bank/client';
import { type Customer, checkRun } from './check.ts';
import { firstLine, killAll, netpay, type Prng, prng, Service, sleep } from './processes.ts';

export interface CrashOptions {
  readonly seed: number;
  /** Kills to reach across the three kinds before the workload stops (each kind a tenth, at least 3). */
  readonly killPoints: number;
  /** A scratch folder for the data of every process. */
  readonly dir: string;
  readonly customers?: number;
  readonly vendors?: number;
  /** Longest the workload runs before it stops, short of its kill points or not. */
  readonly maxWorkloadMs?: number;
  /** Fills an empty PGlite folder before a service first starts on it (the test tiers' template). */
  readonly seedPglite?: (dataDir: string) => void;
  /** The broker on this PostgreSQL database instead of PGlite. */
  readonly brokerDatabaseUrl?: string;
  readonly log?: (line: string) => void;
}

export interface CrashResult {
  seed: number;
  killPoints: number;
  byKind: { broker: number; vendor: number; wallet: number };
  operations: { pay: number; paid: number; buy: number; refund: number; failed: number };
  /** Why operations that were not killed failed (a service down, a chain busy…), by code. */
  failures: Record<string, number>;
  /** From the wallets at the end: payments accepted, hand-overs among them, chains refunded. */
  figures: { accepted: number; handovers: number; refundedChains: number };
  hangs: number;
  ms: number;
  violations: string[];
}

const ADMIN = 'admin-token-for-the-crash-run';
const PASSWORD = 'correct horse battery staple';
/** One coin is 10 minor units (0.0010 at exponent 4); vendor k sells item.txt at (k + 1) coins. */
const COIN = 10n;
const START_BANK = 1_000_000n;
/** The longest a wallet command may run before it counts as hung (a refund waits out a lease). */
const COMMAND_MS = 60_000;

export async function runCrash(o: CrashOptions): Promise<CrashResult> {
  const started = Date.now();
  const log = o.log ?? (() => {});
  const rnd = prng(o.seed);
  const result: CrashResult = {
    seed: o.seed,
    killPoints: 0,
    byKind: { broker: 0, vendor: 0, wallet: 0 },
    operations: { pay: 0, paid: 0, buy: 0, refund: 0, failed: 0 },
    failures: {},
    figures: { accepted: 0, handovers: 0, refundedChains: 0 },
    hangs: 0,
    ms: 0,
    violations: [],
  };
  try {
    const world = await startWorld(o);
    log(`crash: world up in ${Date.now() - started} ms`);
    const customers = await Promise.all(
      Array.from({ length: o.customers ?? 3 }, (_, k) => newCustomer(o, world, k)),
    );
    log(`crash: ${customers.length} customers ready at ${Date.now() - started} ms`);
    await workload(o, world, customers, rnd, result, log);
    log(`crash: workload done at ${Date.now() - started} ms: ${JSON.stringify(result.byKind)}`);
    const { broker, vendor, wallet } = result.byKind;
    if (broker + vendor + wallet < o.killPoints)
      result.violations.push(
        `only ${broker + vendor + wallet} of ${o.killPoints} kill points before the time ran out`,
      );
    result.violations.push(...(await finish(world, customers, result)));
    const checked = await checkRun(
      { brokerUrl: world.broker.url, admin: ADMIN, bankUrl: world.bankUrl },
      customers,
      world.vendors,
    );
    result.violations.push(...checked.violations);
    result.figures = checked.figures;
  } catch (e) {
    result.violations.push(`the run did not complete: ${(e as Error).stack ?? e}`);
  } finally {
    await killAll();
    result.killPoints = result.byKind.broker + result.byKind.vendor + result.byKind.wallet;
    result.ms = Date.now() - started;
  }
  return result;
}

export interface World {
  readonly bankUrl: string;
  readonly broker: Service;
  readonly vendors: readonly Service[];
}

/** The stand-in bank (never killed), the broker and the vendors, each a process with its own folder. */
async function startWorld(o: CrashOptions): Promise<World> {
  const seedDb = (d: string) => {
    mkdirSync(d, { recursive: true });
    o.seedPglite?.(d);
  };
  seedDb(join(o.dir, 'bank'));
  const bankArgs = [
    'bank',
    'start',
    '--port',
    '0',
    '--json',
    '--data',
    join(o.dir, 'bank'),
    '--exponent',
    '4',
  ];
  const bank = netpay(bankArgs);
  const bankUrl = String(JSON.parse(await firstLine(bank)).url);
  // Short leases and hand-over waits: a killed holder is waited out in seconds. No fees: coins add up.
  // The broker's bank account is opened here (a dev broker on DATABASE_URL would keep the one it opens
  // itself in ./.netpay, the working folder, where a later run with another bank would find it).
  const own = await createBankClient(bankUrl).createAccount({ name: 'broker' });
  const config = join(o.dir, 'broker.json');
  writeFileSync(
    config,
    JSON.stringify({
      adminToken: ADMIN,
      feeBasisPoints: 0,
      leaseSeconds: 2,
      handoverTimeoutMs: 500,
      bank: { account: own.id, token: own.token },
    }),
  );
  if (!o.brokerDatabaseUrl) seedDb(join(o.dir, 'broker'));
  const broker = new Service(
    'broker',
    'broker',
    (port) => [
      'broker',
      'start',
      '--port',
      String(port),
      '--json',
      '--dev',
      // On PostgreSQL (DATABASE_URL) the broker has no data folder.
      ...(o.brokerDatabaseUrl ? [] : ['--data', join(o.dir, 'broker')]),
      '--bank',
      bankUrl,
      '--config',
      config,
    ],
    o.brokerDatabaseUrl ? { DATABASE_URL: o.brokerDatabaseUrl } : {},
  );
  await broker.start();
  const pub = join(o.dir, 'public');
  mkdirSync(pub, { recursive: true });
  writeFileSync(join(pub, 'item.txt'), 'an item');
  const vendors = Array.from({ length: o.vendors ?? 3 }, (_, k) => {
    const id = `shop-${k}`;
    const prices = join(o.dir, `${id}.json`);
    writeFileSync(
      prices,
      JSON.stringify({ vendorId: id, prices: { '*.txt': String(COIN * BigInt(k + 1)) } }),
    );
    seedDb(join(o.dir, id, 'db'));
    return new Service('vendor', id, (port) => [
      'vendor',
      'start',
      '--port',
      String(port),
      '--json',
      '--folder',
      pub,
      '--prices',
      prices,
      '--broker',
      broker.url,
      '--data',
      join(o.dir, id),
      '--redeem-every',
      '1',
    ]);
  });
  await Promise.all(vendors.map((v) => v.start()));
  return { bankUrl, broker, vendors };
}

/** A wallet command run to its end (or killed at `killAfterMs`): its exit, last JSON line and whether it was killed. */
async function wallet(c: Customer, args: string[], killAfterMs?: number, env: NodeJS.ProcessEnv = {}) {
  const p = netpay([...args, '--wallet', c.walletDir, '--json'], { NETPAY_PASSWORD: PASSWORD, ...env });
  let killed = false;
  let hung = false;
  const kill = setTimeout(() => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    killed = killAfterMs !== undefined;
    hung = killAfterMs === undefined;
    p.child.kill('SIGKILL');
  }, killAfterMs ?? COMMAND_MS);
  const { code } = await p.exit;
  clearTimeout(kill);
  const line = p.stdout().trim().split('\n').at(-1) ?? '';
  let json: Record<string, unknown> | undefined;
  try {
    json = line ? JSON.parse(line) : undefined;
  } catch {
    json = undefined;
  }
  return { code, json, killed, hung, stderr: p.stderr() };
}

/** A customer: registered and verified through the wallet CLI, with a bank account and money loaded. */
async function newCustomer(o: CrashOptions, w: World, k: number): Promise<Customer> {
  const login = `customer-${k}@example.com`;
  const c: Customer = {
    login,
    walletDir: join(o.dir, `wallet-${k}`),
    bankAccount: '',
    bankToken: '',
    startBank: START_BANK,
    receipts: [],
  };
  const must = async (args: string[], env?: NodeJS.ProcessEnv) => {
    const r = await wallet(c, args, undefined, env);
    if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
    return r.json;
  };
  await must(['wallet', 'register', '--login', login, '--broker', w.broker.url]);
  const outbox = await (
    await fetch(`${w.broker.url}/dev/outbox?recipient=${encodeURIComponent(login)}`)
  ).json();
  const code = /(\d{6})/.exec(outbox.messages.at(-1).body)![1]!;
  await must(['wallet', 'verify', code]);
  const account = await createBankClient(w.bankUrl).createAccount({
    name: login,
    initialBalance: START_BANK,
  });
  c.bankAccount = account.id;
  c.bankToken = account.token;
  await must(['wallet', 'load', '2.0000', '--bank-account', account.id], {
    NETPAY_BANK_TOKEN: account.token,
  });
  await must(['wallet', 'buy', '--coin-value', '0.0010', '--coins', '30']);
  return c;
}

interface Shared {
  stop: boolean;
  readonly result: CrashResult;
  /** Operations that went through: a broker or vendor kill waits for some since the last one. */
  progress: number;
}

/**
 * The kinds' kills and the customers' operations, until the kill points are reached (or time is up). Each
 * kind gets at least a tenth of them (restarting a broker takes seconds, killing a wallet command none).
 */
async function workload(
  o: CrashOptions,
  w: World,
  customers: readonly Customer[],
  rnd: Prng,
  result: CrashResult,
  log: (line: string) => void,
) {
  const s: Shared = { stop: false, result, progress: 0 };
  const least = Math.max(3, Math.ceil(o.killPoints / 10));
  const k = result.byKind;
  const enough = () =>
    k.broker + k.vendor + k.wallet >= o.killPoints && Math.min(k.broker, k.vendor, k.wallet) >= least;
  const deadline = Date.now() + (o.maxWorkloadMs ?? 120_000);
  const watch = (async () => {
    while (!s.stop && !enough() && Date.now() < deadline) await sleep(100);
    s.stop = true;
  })();
  // Each part draws from its own fork of the seed, so one part's pace does not change another's choices.
  // The broker is killed one at a time, the vendors up to two at once. The broker is not killed while a
  // vendor starts again: a starting vendor waits for its broker (with back-off up to 30 s), and a broker
  // killed again and again meanwhile kept one from listening within its 90 s (seen once in CI).
  const parts = [
    watch,
    killer(s, rnd.fork(), [w.broker], [0, 2_000], 1, () => k.broker++, log, w.vendors),
    killer(s, rnd.fork(), w.vendors, [0, 1_500], 2, () => k.vendor++, log),
    ...customers.map((c) =>
      customerLoop(s, rnd.fork(), w, c, () => k.wallet < Math.max(least, o.killPoints - k.broker - k.vendor)),
    ),
  ];
  const settled = await Promise.allSettled(parts.map((p) => p.finally(() => (s.stop = true))));
  for (const r of settled) if (r.status === 'rejected') throw r.reason;
}

/**
 * Kills one of `targets` (a seeded choice among those not being restarted) after a seeded pause and
 * starts it again, at most `overlap` at once, until the end; none while one of `waitFor` is restarting.
 */
async function killer(
  s: Shared,
  rnd: Prng,
  targets: readonly Service[],
  [lo, hi]: [number, number],
  overlap: number,
  count: () => void,
  log: (line: string) => void,
  waitFor: readonly Service[] = [],
) {
  const running = new Set<Promise<void>>();
  while (!s.stop) {
    // A kill point: after a seeded number of operations went through since the last kill (so the run
    // makes progress however slow restarts are on a busy machine), then a seeded pause.
    const after = s.progress + rnd.int(1, 3);
    while (!s.stop && s.progress < after) await sleep(50);
    await sleep(rnd.int(lo, hi));
    const free = targets.filter((t) => !t.restarting);
    if (s.stop) break;
    if (running.size >= overlap || free.length === 0 || waitFor.some((t) => t.restarting)) continue;
    const t = rnd.pick(free);
    const started = Date.now();
    const p = t.killAndRestart().then(() => {
      count();
      log(`crash: killed ${t.name}, back in ${Date.now() - started} ms`);
    });
    running.add(p);
    void p.finally(() => running.delete(p)).catch(() => {});
    if (overlap === 1) await p;
  }
  await Promise.all(running);
}

/**
 * One customer's operations: mostly payments (staying at the last vendor or moving to another, which hands
 * the chain over), sometimes a refund of everything or another chain; a seeded share of the commands is
 * killed at a seeded fraction of how long a command takes here.
 */
async function customerLoop(s: Shared, rnd: Prng, w: World, c: Customer, killWallets: () => boolean) {
  const ops = s.result.operations;
  let at = rnd.int(0, w.vendors.length - 1);
  let needCoins = false;
  // How long a command takes here (it varies with the machine's load): kills land anywhere in it.
  let typicalMs = 2_000;
  while (!s.stop) {
    const roll = rnd.next();
    const killAt = killWallets() && rnd.next() < 0.4 ? rnd.next() * 1.2 : undefined;
    const killAfterMs = killAt === undefined ? undefined : Math.round(killAt * typicalMs);
    if (rnd.next() < 0.5) at = rnd.int(0, w.vendors.length - 1);
    const started = Date.now();
    let r: Awaited<ReturnType<typeof wallet>>;
    let ok: boolean;
    if (needCoins || roll < 0.1) {
      ops.buy++;
      r = await wallet(c, ['wallet', 'buy', '--coin-value', '0.0010', '--coins', '30'], killAfterMs);
      needCoins = false;
      ok = r.code === 0;
      if (errorCode(r.json) === 'insufficient_funds') {
        ops.refund++;
        r = await wallet(c, ['wallet', 'refund']);
      }
    } else if (roll < 0.18) {
      ops.refund++;
      r = await wallet(c, ['wallet', 'refund'], killAfterMs);
      ok = r.code === 0;
    } else {
      ops.pay++;
      const url = `${w.vendors[at]!.url}/item.txt`;
      r = await wallet(c, ['fetch', url, '--max-price', '0.0100'], killAfterMs);
      ok = r.json?.status === 200 && Boolean(r.json.receipt);
      if (ok) {
        ops.paid++;
        c.receipts.push(r.json!.receipt);
      }
      if (errorCode(r.json) === 'insufficient_coins') needCoins = true;
    }
    if (ok) s.progress++;
    if (r.killed) s.result.byKind.wallet++;
    else typicalMs = Math.round(0.7 * typicalMs + 0.3 * (Date.now() - started));
    if (r.hung) s.result.hangs++;
    if (!ok && !r.killed) {
      ops.failed++;
      const code = errorCode(r.json) ?? refusal(r.json) ?? `exit_${r.code}`;
      s.result.failures[code] = (s.result.failures[code] ?? 0) + 1;
    }
  }
}

/** A vendor's refusal as `netpay fetch --json` prints it: its status and the code in the body. */
function refusal(json: Record<string, unknown> | undefined) {
  if (typeof json?.status !== 'number') return undefined;
  try {
    return `${json.status} ${JSON.parse(String(json.body)).code}`;
  } catch {
    return `${json.status}`;
  }
}

const errorCode = (json: Record<string, unknown> | undefined) =>
  (json?.error as { code?: string } | undefined)?.code;

/**
 * After the kills: every service up, every wallet's left-over work finished (by a command that is not
 * killed), everything unspent refunded, and the vendors' redemptions through. Returns what did not end.
 */
async function finish(w: World, customers: readonly Customer[], result: CrashResult): Promise<string[]> {
  const problems: string[] = [];
  for (const v of [w.broker, ...w.vendors]) {
    if (!v.proc || v.proc.child.exitCode !== null || v.proc.child.signalCode !== null) {
      await v.killAndRestart();
    }
  }
  // A refund may wait for a holder's lease, or for a key a killed broker left claimed (30 s): asked
  // again, under the same keys, for up to a minute and a half.
  for (const c of customers) {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const r = await wallet(c, ['wallet', 'refund']);
      if (r.hung) result.hangs++;
      if (r.code === 0) break;
      if (Date.now() > deadline) {
        problems.push(`${c.login}: the final refund failed: ${r.stderr.trim().slice(-500)}`);
        break;
      }
      await sleep(2_000);
    }
  }
  // Every vendor redeems each second: wait until each has redeemed all it accepted.
  for (const v of w.vendors) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const st = await (await fetch(`${v.url}/netpay/statement`)).json().catch(() => undefined);
      if (st && st.accepted === st.redeemed && st.missing === '0') break;
      if (Date.now() > deadline) {
        problems.push(`${v.name} has not redeemed everything it accepted: ${JSON.stringify(st)}`);
        break;
      }
      await sleep(500);
    }
  }
  return problems;
}
