/**
 * The services the hostile-input run attacks (issue 18 §3), real and on loopback: the stand-in bank, the
 * broker (dev mode, PGlite), a vendor server selling a folder (`netpay vendor start`'s code) and the web
 * server, with one party of each kind whose credentials the run borrows: a customer (session token and bank
 * token), a vendor and a peer (signing keys), and the operator (admin token). No vitest imports here, so the
 * soak section (soak/fuzz.ts) starts the same world outside a test.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBankClient, startBank } from '@netpay/bank';
import { type Db, migrate, openDatabase } from '@netpay/db';
import { createSigner, currency, type Ed25519Signer, randomBytes, toBase64url } from '@netpay/protocol';
import { signRequest } from '@netpay/service';
import { createBroker } from '../../../broker/src/app.ts';
import { httpBank } from '../../../broker/src/http-bank.ts';
import { BROKER_MIGRATIONS } from '../../../broker/src/migrations.ts';
import { PriceListSchema, startVendorServer } from '../../../gate/src/server.ts';
import { BUILT_APPS, startWeb } from '../../../web/server.ts';

export const ADMIN_TOKEN = 'hostile-admin-token-0123456789abcdef';
export type ServiceName = 'bank' | 'broker' | 'vendor' | 'web';

/** A party whose requests are signed (a vendor or a peer registered at the broker). */
export interface Signer {
  readonly id: string;
  readonly signer: Ed25519Signer;
}

/** Credentials of every kind, valid where they belong: the run sends them where they do not. */
export interface Parties {
  readonly customerToken: string;
  readonly customerLogin: string;
  readonly bankAccount: string;
  readonly bankToken: string;
  /** A second bank account and its token (another account's valid token). */
  readonly otherBankAccount: string;
  readonly otherBankToken: string;
  readonly vendor: Signer;
  readonly peer: Signer;
  readonly adminToken: string;
  /** A chain the customer bought (so chain routes have a real id to aim at). */
  readonly chainId: string;
}

/** A 5xx the services logged: what the error was, for the report. */
export interface LoggedError {
  readonly service: ServiceName;
  readonly message: string;
}

const clockSeconds = () => Math.floor(Date.now() / 1000);

/** Fastify logger options that keep only the errors the services log (their unhandled 500s). */
function errorLog(service: ServiceName, into: LoggedError[]) {
  return {
    level: 'error',
    stream: {
      write(line: string) {
        try {
          const e = JSON.parse(line) as { err?: { message?: string; stack?: string }; msg?: string };
          into.push({ service, message: e.err?.stack?.split('\n').slice(0, 4).join(' | ') ?? e.msg ?? line });
        } catch {
          into.push({ service, message: line });
        }
      },
    },
  } as never;
}

/** A PGlite folder, seeded from a template when the caller has one (the test run's empty cluster). */
function pgliteDir(root: string, name: string, seed?: (dir: string) => void): string {
  const dir = join(root, name);
  seed?.(dir);
  return dir;
}

/** Starts the bank, the broker, a vendor server and the web server; `seed` copies an empty PGlite cluster. */
export async function startServices(options: { seed?: (dir: string) => void } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'netpay-hostile-'));
  const logged: LoggedError[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const bank = await startBank({
      port: 0,
      dev: true,
      dataDir: pgliteDir(root, 'bank', options.seed),
      currency: currency('USD', 4),
      logger: errorLog('bank', logged),
    });
    closers.push(() => bank.close());
    const bankClient = createBankClient(bank.url);
    const own = await bankClient.createAccount({ name: 'broker' });
    const brokerDb: Db = await openDatabase({ dataDir: pgliteDir(root, 'broker', options.seed) });
    closers.push(() => brokerDb.close());
    await migrate(brokerDb, BROKER_MIGRATIONS);
    const broker = createBroker({
      db: brokerDb,
      bank: httpBank(bankClient),
      logger: errorLog('broker', logged),
      config: {
        dev: true,
        adminToken: ADMIN_TOKEN,
        argon2: { t: 1, m: 64, p: 1 },
        // The run sends wrong tokens on purpose: locking its address out would hide the checks behind.
        tokenMaxFailures: 0,
        bank: { account: own.id, token: own.token },
      },
    });
    await broker.app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => broker.app.close());
    const brokerUrl = `http://127.0.0.1:${(broker.app.server.address() as { port: number }).port}`;

    const files = join(root, 'files');
    mkdirSync(files);
    writeFileSync(join(files, 'paper.pdf'), 'a paper');
    writeFileSync(join(files, 'free.txt'), 'free');
    const vendorData = join(root, 'vendor');
    options.seed?.(join(vendorData, 'db'));
    const vendor = await startVendorServer({
      port: 0,
      folder: files,
      prices: PriceListSchema.parse({ vendorId: 'hostile-shop', prices: { '*.pdf': '50' } }),
      brokerUrl,
      dataDir: vendorData,
      redeemEveryMs: 0,
      logger: errorLog('vendor', logged),
    });
    closers.push(() => vendor.close());
    const webOut = existsSync(BUILT_APPS) ? {} : { outDir: join(root, 'web') };
    const web = await startWeb({
      port: 0,
      broker: brokerUrl,
      shops: [{ id: 'hostile-shop', name: 'Hostile shop', url: vendor.url, sample: '/paper.pdf' }],
      ...webOut,
    });
    closers.push(() => web.close());

    const parties = await makeParties(brokerUrl, bankClient);
    const urls: Record<ServiceName, string> = {
      bank: bank.url,
      broker: brokerUrl,
      vendor: vendor.url,
      web: web.url,
    };
    return {
      urls,
      parties,
      logged,
      brokerDb,
      vendorDb: vendor.db,
      bankClient,
      async close() {
        for (const c of closers.reverse()) await c().catch(() => {});
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (e) {
    for (const c of closers.reverse()) await c().catch(() => {});
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
}

export type Services = Awaited<ReturnType<typeof startServices>>;

/** A JSON call to the broker, signed by a party when given one. */
async function brokerCall(
  url: string,
  method: string,
  path: string,
  o: { body?: unknown; token?: string; signer?: Signer } = {},
) {
  const headers: Record<string, string> = { 'idempotency-key': `setup-${toBase64url(randomBytes(9))}` };
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.signer) {
    Object.assign(
      headers,
      signRequest(o.signer.signer, o.signer.id, { method, path, body: o.body ?? null }, clockSeconds()),
    );
  }
  const res = await fetch(url + path, {
    method,
    headers,
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });
  const text = await res.text();
  const body = text ? JSON.parse(text) : undefined;
  if (res.status >= 300) throw new Error(`set-up: ${method} ${path}: ${res.status} ${text}`);
  return body;
}

/** A registered vendor or peer with a fresh key. */
async function registerParty(url: string, id: string, kind: 'vendor' | 'peer'): Promise<Signer> {
  const party = { id, signer: createSigner(randomBytes(32)) };
  await brokerCall(url, 'POST', '/parties', {
    signer: party,
    body: { id, kind, name: id, publicKey: toBase64url(party.signer.publicKey) },
  });
  return party;
}

/** One party of each kind, with a loaded customer that owns a chain. */
async function makeParties(url: string, bank: ReturnType<typeof createBankClient>): Promise<Parties> {
  const login = `hostile-${toBase64url(randomBytes(4)).toLowerCase()}@example.com`;
  const reg = await brokerCall(url, 'POST', '/customers', {
    body: { login, password: 'correct horse battery', deviceName: 'fuzz' },
  });
  const outbox = await brokerCall(url, 'GET', `/dev/outbox?recipient=${encodeURIComponent(login)}`);
  const code = /(\d{6})/.exec(outbox.messages.at(-1).body)![1]!;
  const verified = await brokerCall(url, 'POST', `/devices/${reg.deviceId}/verify`, { body: { code } });
  const token = verified.session.token as string;
  const account = await bank.createAccount({ name: 'customer', initialBalance: 10_000_000n });
  const other = await bank.createAccount({ name: 'other', initialBalance: 1_000n });
  await brokerCall(url, 'POST', '/me/load', {
    token,
    body: { amount: '1000000', bankAccount: account.id, bankToken: account.token },
  });
  const config = await brokerCall(url, 'GET', '/config');
  const coinValue = String(config.denominations?.[0] ?? '10');
  const bought = await brokerCall(url, 'POST', '/me/chains', {
    token,
    body: { chains: [{ coinValue, n: 10 }] },
  });
  return {
    customerToken: token,
    customerLogin: login,
    bankAccount: account.id,
    bankToken: account.token,
    otherBankAccount: other.id,
    otherBankToken: other.token,
    vendor: await registerParty(url, `hostile-vendor-${toBase64url(randomBytes(3))}`, 'vendor'),
    peer: await registerParty(url, `hostile-peer-${toBase64url(randomBytes(3))}`, 'peer'),
    adminToken: ADMIN_TOKEN,
    chainId: bought.chains[0].chainId,
  };
}
