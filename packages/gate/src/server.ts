/**
 * The standalone vendor (`netpay vendor start`): opens a vendor's durable parts (key, chain store, broker
 * client, gate, redeemer) and serves a folder of files at a price list's prices.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import cors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import { unanswered, unavailable } from '@netpay/api';
import { type Db, migrate, openDatabase } from '@netpay/db';
import { createSigner, HEADERS, NetPayError, randomBytes, toBase64url, X402_HEADERS } from '@netpay/protocol';
import { createServiceApp, withBackoff } from '@netpay/service';
import type { FastifyInstance } from 'fastify';
import { createBrokerClient } from './broker-client.ts';
import type { FrozenPeers } from './deps.ts';
import { createGate, RECEIPT_SIGNATURE_HEADER, WALLET_RECEIPT_HEADER } from './gate.ts';
import { closeWithin, STOP_GRACE_MS } from './http/close.ts';
import { netpayFastify } from './http/fastify.ts';
import { filePath, type PriceList, priceOf } from './price-list.ts';
import { createRedeemer } from './redeem/redeemer.ts';
import { createChainStore, VENDOR_MIGRATIONS } from './store/store.ts';

// The `config.netpay` route option (its declaration merges into Fastify's route config for VendorSite routes).
export type { RoutePrice } from './http/fastify.ts';
export { filePath, type PriceList, PriceListSchema, priceOf } from './price-list.ts';

/** The vendor's Ed25519 key, made on first start and kept (owner-only) in its data folder. */
function loadOrCreateKey(dir: string, name = 'vendor-key.json'): Uint8Array {
  const file = join(dir, name);
  if (existsSync(file))
    return Uint8Array.from(Buffer.from(JSON.parse(readFileSync(file, 'utf8')).seed, 'base64url'));
  mkdirSync(dir, { recursive: true });
  const seed = randomBytes(32);
  writeFileSync(file, JSON.stringify({ seed: toBase64url(seed) }), { mode: 0o600 });
  return seed;
}

/**
 * A vendor's durable parts: its key (made on first use, kept owner-only in the data folder), its chain
 * store (PGlite in the data folder, or PostgreSQL), its broker client, gate and redeemer. Used by the
 * standalone server and by `netpay vendor redeem` on a stopped vendor.
 */
export async function openVendor(o: {
  vendorId: string;
  brokerUrl: string;
  currency: { code: string; exponent: number };
  dataDir?: string;
  databaseUrl?: string;
  clock?: () => number;
  /** The vendor's public URL (server-side wallet sign-in); may be known only once it listens. */
  publicUrl?: () => string | undefined;
  /** A peer's gate (docs/p2p.md §3): payments checked offline; the peers the CIS froze, as last heard. */
  frozenPeers?: FrozenPeers;
  /** Where the key is kept in `dataDir`. Default vendor-key.json. */
  keyFile?: string;
  /** How long a paid request may be retried with the same payment, in seconds (createGate's; default 300). */
  replayWindowSeconds?: number;
}) {
  const dataDir = resolve(o.dataDir ?? '.netpay/vendor');
  const signer = createSigner(loadOrCreateKey(dataDir, o.keyFile));
  // PGlite on a thread of its own: no statement (the journal's write-behind included) stalls a request.
  const local = { dataDir: join(dataDir, 'db'), thread: true };
  const db = await openDatabase(o.databaseUrl ? { url: o.databaseUrl } : local);
  await migrate(db, VENDOR_MIGRATIONS);
  const clock = o.clock ?? Date.now;
  // On PGlite this process is the database's only writer: accepted coins go to a journal (O_SYNC groups)
  // and are written behind into SQL. Over PostgreSQL, SQL's compare-and-set keeps instances apart.
  const journal = o.databaseUrl ? {} : { journal: join(dataDir, 'journal'), databaseDir: local.dataDir };
  const store = createChainStore({ db, clock, ...journal });
  const broker = createBrokerClient({ url: o.brokerUrl, vendorId: o.vendorId, signer, clock });
  const gate = createGate({
    vendorId: o.vendorId,
    signer,
    broker,
    brokerUrl: o.brokerUrl,
    store,
    currency: o.currency,
    clock,
    ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
    ...(o.frozenPeers ? { frozenPeers: o.frozenPeers } : {}),
    ...(o.replayWindowSeconds !== undefined ? { replayWindowSeconds: o.replayWindowSeconds } : {}),
  });
  const redeemer = createRedeemer({ vendorId: o.vendorId, signer, broker, store, clock });
  return { db, signer, store, broker, gate, redeemer, clock };
}

export interface StartVendorOptions {
  readonly port: number;
  readonly host?: string;
  /** Folder of files to sell. */
  readonly folder: string;
  readonly prices: PriceList;
  readonly brokerUrl: string;
  /** Where the vendor keeps its key and (without databaseUrl) its PGlite data. Default ./.netpay/vendor. */
  readonly dataDir?: string;
  readonly databaseUrl?: string;
  /** URL other vendors reach this one at for hand-overs; default the listening URL. */
  readonly publicUrl?: string;
  /** Bank account for payouts, registered with the broker. */
  readonly bankAccount?: string;
  /**
   * The operator's invitation (docs/broker.md §6.4, `netpay broker invite`): needed the first time this
   * vendor registers at a broker whose registration is not open. Later starts need none.
   */
  readonly invitation?: string;
  /** Redeem and push backups this often (ms); 0: only on demand. Default 60 s. */
  readonly redeemEveryMs?: number;
  readonly logger?: boolean | { level: string };
  /** Unix milliseconds (tests move it). */
  readonly clock?: () => number;
  /** Stops waiting for the broker at start (Ctrl-C while it is not up): the start then fails. */
  readonly signal?: AbortSignal;
  /** How long a paid request may be retried with the same payment, in seconds. Default 300 (protocol.md §7.4). */
  readonly replayWindowSeconds?: number;
  /**
   * The site's own routes, added before the folder's catch-all: a route is priced with
   * `config: { netpay: price }` like any NetPay route. Gets the vendor's database (for the site's own tables,
   * made with `migrate`) and its public URL once it listens.
   */
  readonly routes?: (app: FastifyInstance, site: VendorSite) => void | Promise<void>;
}

/** What a vendor's own routes may use. */
export interface VendorSite {
  readonly db: Db;
  readonly vendorId: string;
  /** Unix milliseconds (the vendor's clock). */
  readonly clock: () => number;
  /** The vendor's public URL (known once it listens). */
  readonly url: () => string;
}

/** Why the broker refused this vendor's registration, with what to do about an invitation. */
function registrationRefusal(vendorId: string, code: string, message: string): string {
  const hint =
    code === 'invitation_required' || code === 'invitation_invalid'
      ? ' (ask the operator for an invitation, `netpay broker invite`, and start with it: --invite TOKEN)'
      : '';
  return `the broker refused the registration of ${vendorId}: ${code}: ${message}${hint}`;
}

type Vendor = Awaited<ReturnType<typeof openVendor>>;

/** The folder to sell, as an absolute path; a missing one stops the start. */
function folderToSell(folder: string): string {
  const absolute = resolve(folder);
  if (!statSync(absolute, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(`vendor config: ${absolute} is not a folder`);
  return absolute;
}

/**
 * The vendor's Fastify app: a NetPay service app (OpenAPI at /docs, /healthz a database ping, /metrics,
 * errors as {code, message}) with CORS and the gate's hooks.
 */
async function createVendorApp(
  o: StartVendorOptions,
  { db, gate }: Vendor,
  notReady: () => string | undefined,
): Promise<FastifyInstance> {
  const { app } = createServiceApp({
    title: `${o.prices.name ?? o.prices.vendorId} (NetPay vendor)`,
    description:
      'Files sold for NetPay coins: a priced GET answers 402 with the terms (docs/protocol.md §9), a paid one the file and a receipt.',
    logger: o.logger ?? false,
    bodyLimit: 1024 * 1024,
    health: async () => {
      await db.query('SELECT 1');
      const missing = notReady();
      if (missing) throw new Error(missing);
    },
  });
  // Browser wallets on other sites (the web wallet) fetch priced files with a payment header and read the
  // receipt: any origin may, without cookies.
  // The vendor's own pages (/netpay/…: statement, dashboard, wallet sign-in) are not for other sites.
  const shared = {
    origin: true,
    credentials: false,
    methods: ['GET', 'HEAD', 'POST'],
    allowedHeaders: [
      HEADERS.payment,
      X402_HEADERS.signature,
      'content-type',
      'idempotency-key',
      RECEIPT_SIGNATURE_HEADER,
    ],
    exposedHeaders: [
      HEADERS.receipt,
      HEADERS.terms,
      WALLET_RECEIPT_HEADER,
      X402_HEADERS.required,
      X402_HEADERS.response,
    ],
    maxAge: 600,
  };
  await app.register(cors, {
    delegator: (req, done) => done(null, req.url?.startsWith('/netpay/') ? { origin: false } : shared),
  });
  netpayFastify(app, gate);
  return app;
}

/**
 * The statement and the dashboard show the vendor's money at the broker: for this machine only (a
 * dashboard beside it), never to the customers the shop serves.
 */
function addOwnerPages(app: FastifyInstance, prices: PriceList, { redeemer, store, clock }: Vendor): void {
  const localOnly = (ip: string) => /^(127\.|::1$|::ffff:127\.)/.test(ip);
  const forbidden = { code: 'forbidden', message: 'served to this machine only' };
  app.get('/netpay/statement', async (req, reply) =>
    localOnly(req.ip) ? redeemer.statement() : reply.code(403).send(forbidden),
  );
  app.get('/netpay/dashboard.json', async (req, reply) => {
    if (!localOnly(req.ip)) return reply.code(403).send(forbidden);
    const [statement, revenue, payees] = await Promise.all([
      redeemer.statement(),
      store.revenue(clock() - 86_400_000),
      store.payeeTotals(),
    ]);
    return { name: prices.name ?? prices.vendorId, currency: prices.currency, statement, revenue, payees };
  });
}

/**
 * The folder's files, priced by the price list. One path, normalised once, is both priced and served:
 * `//a.pdf` or `x/../a.pdf` cannot dodge the price.
 */
function addFolderRoute(app: FastifyInstance, prices: PriceList): void {
  app.get(
    '/*',
    {
      config: {
        netpay: (req) => {
          const path = filePath(req.params);
          return {
            amount: priceOf(prices, path) ?? 0n,
            ...(prices.payees ? { payees: prices.payees } : {}),
            description: path,
          };
        },
      },
    },
    async (req, reply) => reply.sendFile(filePath(req.params)),
  );
}

/**
 * Register (or update) this vendor at the broker, proving the key with a signed request. Returns why the
 * broker refused, or undefined once registered; a broker that does not answer (not listening yet) is
 * waited for with back-off, each wait logged; any other failure is thrown.
 */
async function registerAtBroker(
  o: StartVendorOptions,
  { signer, broker, clock }: Vendor,
  url: string,
  log: FastifyInstance['log'],
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const vendorId = o.prices.vendorId;
  const body = {
    id: vendorId,
    kind: 'vendor' as const,
    name: o.prices.name ?? vendorId,
    publicKey: toBase64url(signer.publicKey),
    url,
    ...(o.bankAccount ? { bankAccount: o.bankAccount } : {}),
    ...(o.invitation ? { invitation: o.invitation } : {}),
  };
  const key = `register-${vendorId}-${clock()}`;
  try {
    await withBackoff(() => broker.register(body, key), {
      what: `the broker at ${o.brokerUrl}`,
      transient: unavailable,
      log: (message, details) => log.warn({ broker: o.brokerUrl, ...details }, message),
      ...(signal ? { signal } : {}),
    });
    return undefined;
  } catch (e) {
    if (!(e instanceof NetPayError)) throw e;
    return unanswered(e)
      ? `cannot reach the broker at ${o.brokerUrl}: ${e.message}`
      : registrationRefusal(vendorId, e.code, e.message);
  }
}

/**
 * A vendor that sells the files of a folder at the prices of a price list, with no code: registers its key
 * at the broker, answers unpaid downloads with 402 and terms, serves paid ones with a receipt, hands chains
 * over to other vendors, and redeems what it accepted on a schedule.
 */
export async function startVendorServer(o: StartVendorOptions) {
  const folder = folderToSell(o.folder);
  let registeredUrl: string | undefined;
  const vendor = await openVendor({
    ...o,
    vendorId: o.prices.vendorId,
    currency: o.prices.currency,
    publicUrl: () => registeredUrl,
  });
  const { db, signer, store, redeemer, clock } = vendor;
  const vendorId = o.prices.vendorId;

  let notReady: string | undefined = `not registered at the broker at ${o.brokerUrl} yet`;
  const app = await createVendorApp(o, vendor, () => notReady);
  await app.register(fastifyStatic, { root: folder, serve: false });
  addOwnerPages(app, o.prices, vendor);
  await o.routes?.(app, { db, vendorId, clock, url: () => registeredUrl ?? '' });
  addFolderRoute(app, o.prices);
  await app.listen({ port: o.port, host: o.host ?? '127.0.0.1' });
  const address = app.server.address() as AddressInfo;
  const url = `http://${address.address}:${address.port}`;
  registeredUrl = o.publicUrl ?? url;

  // Listening already (/livez), ready (/healthz) once registered: the broker may start after the vendor.
  const refusal = await registerAtBroker(o, vendor, registeredUrl, app.log, o.signal);
  notReady = undefined;
  if (refusal) {
    await app.close();
    await store.close();
    await db.close();
    throw new Error(`vendor config: ${refusal}`);
  }
  const stop = (o.redeemEveryMs ?? 60_000) > 0 ? redeemer.start(o.redeemEveryMs ?? 60_000) : () => {};
  let closed: Promise<void> | undefined;
  return {
    url,
    vendorId,
    publicKey: toBase64url(signer.publicKey),
    redeemer,
    store,
    /** The vendor's database (its own tables and the site's). */
    db,
    close() {
      closed ??= (async () => {
        stop();
        await closeWithin(app, STOP_GRACE_MS);
        await store.close();
        await db.close();
      })();
      return closed;
    },
  };
}
