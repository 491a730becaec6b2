/**
 * The system under load (issue 18 §5), every party a real process on loopback: the stand-in bank (PGlite),
 * one or two `netpay broker start --dev` processes over one PostgreSQL database (two behind a TCP
 * balancer, so everyone knows the broker by one URL), and `vendors` vendor processes (PGlite each), selling
 * four small files at 10 minor units (one coin). Vendors redeem every 2 s and have bank accounts; the
 * brokers settle every `settlementSeconds`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBankClient } from '@netpay/bank/client';
import { type Balancer, startBalancer } from './balancer.ts';
import { line, netpay, type Proc, stop } from './procs.ts';

export const ADMIN_TOKEN = 'load-admin-token-0123456789';

export interface ClusterOptions {
  /** An empty folder for data, configs and the files sold. */
  readonly dir: string;
  readonly brokers: 1 | 2;
  readonly vendors: number;
  /** postgres://… of an empty database for the brokers. */
  readonly databaseUrl: string;
  readonly settlementSeconds: number;
  /** Called with each PGlite data folder before its service starts (tests copy an empty cluster in). */
  readonly seedPglite?: (dataDir: string) => void;
}

export interface Cluster {
  readonly bankUrl: string;
  /** The URL wallets and vendors use: the broker, or the balancer in front of the two. */
  readonly brokerUrl: string;
  /** Each broker process's own URL. */
  readonly brokerUrls: readonly string[];
  readonly vendors: readonly { id: string; url: string; proc: Proc }[];
  readonly balancer: Balancer | undefined;
  /** GET an operator route (admin token) at the public broker URL. */
  admin<T = unknown>(path: string): Promise<T>;
  close(): Promise<void>;
}

const serviceUrl = async (p: Proc) => String(JSON.parse(await line(p)).url);

async function startBank(o: ClusterOptions): Promise<{ proc: Proc; url: string }> {
  const data = join(o.dir, 'bank');
  o.seedPglite?.(data);
  const proc = netpay('bank', ['bank', 'start', '--port', '0', '--json', '--data', data, '--exponent', '4']);
  return { proc, url: await serviceUrl(proc) };
}

/** The brokers' shared config: its own bank account (one for all processes), no fee, cheap passwords. */
async function brokerConfig(o: ClusterOptions, bankUrl: string): Promise<string> {
  const own = await createBankClient(bankUrl).createAccount({ name: 'broker' });
  const file = join(o.dir, 'broker.json');
  const config = {
    adminToken: ADMIN_TOKEN,
    feeBasisPoints: 0,
    bank: { account: own.id, token: own.token },
    // Registration is not what is measured: the cheapest argon2id the config allows.
    argon2: { t: 1, m: 1024, p: 1 },
    schedule: { settlementSeconds: o.settlementSeconds, reconcileSeconds: 5 },
  };
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** The brokers, started at the same moment over one database (both make the schema, one signing key). */
async function startBrokers(o: ClusterOptions, bankUrl: string, config: string) {
  const procs = Array.from({ length: o.brokers }, (_, k) =>
    netpay(
      `broker-${k + 1}`,
      ['broker', 'start', '--port', '0', '--json', '--dev', '--bank', bankUrl, '--config', config],
      { DATABASE_URL: o.databaseUrl },
    ),
  );
  const urls = await Promise.all(procs.map(serviceUrl));
  return { procs, urls };
}

async function startVendor(o: ClusterOptions, id: string, brokerUrl: string, bankUrl: string) {
  const folder = join(o.dir, 'public');
  const prices = join(o.dir, `${id}.json`);
  writeFileSync(prices, JSON.stringify({ vendorId: id, prices: { '*.txt': '10' } }));
  const data = join(o.dir, id);
  o.seedPglite?.(join(data, 'db'));
  const account = await createBankClient(bankUrl).createAccount({ name: id });
  const proc = netpay(id, [
    ...['vendor', 'start', '--port', '0', '--json', '--folder', folder, '--prices', prices],
    ...['--broker', brokerUrl, '--data', data, '--bank-account', account.id, '--redeem-every', '2'],
  ]);
  return { id, url: await serviceUrl(proc), proc };
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const procs: Proc[] = [];
  let balancer: Balancer | undefined;
  const close = async () => {
    await balancer?.close();
    await Promise.all(procs.reverse().map((p) => stop(p)));
  };
  try {
    mkdirSync(join(o.dir, 'public'), { recursive: true });
    for (let k = 1; k <= 4; k++)
      writeFileSync(join(o.dir, 'public', `item-${k}.txt`), `item ${k}\n`.repeat(20));
    const bank = await startBank(o);
    procs.push(bank.proc);
    const brokers = await startBrokers(o, bank.url, await brokerConfig(o, bank.url));
    procs.push(...brokers.procs);
    balancer = o.brokers > 1 ? await startBalancer(brokers.urls) : undefined;
    const brokerUrl = balancer?.url ?? brokers.urls[0]!;
    const vendors = await Promise.all(
      Array.from({ length: o.vendors }, (_, k) => startVendor(o, `shop-${k + 1}`, brokerUrl, bank.url)),
    );
    procs.push(...vendors.map((v) => v.proc));
    const admin = async <T>(path: string): Promise<T> => {
      const r = await fetch(brokerUrl + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
      return (await r.json()) as T;
    };
    return { bankUrl: bank.url, brokerUrl, brokerUrls: brokers.urls, vendors, balancer, admin, close };
  } catch (e) {
    await close();
    throw e;
  }
}
