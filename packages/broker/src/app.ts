import cors from '@fastify/cors';
import formbody from '@fastify/formbody';
import type { Db } from '@netpay/db';
import { randomBytes as cryptoRandom } from '@netpay/protocol';
import { createServiceApp, type Routable } from '@netpay/service';
import type { LoggerOptions } from 'pino';
import { accountRoutes } from './accounts/routes.ts';
import { createAccountService } from './accounts/service.ts';
import { adminRoutes } from './admin/routes.ts';
import type { Bank } from './bank.ts';
import { type BrokerConfig, type BrokerConfigInput, parseBrokerConfig } from './config.ts';
import { type BrokerContext, type Notifier, outboxNotifier } from './context.ts';
import { directoryRoutes } from './directory/routes.ts';
import { createDirectoryService } from './directory/service.ts';
import { createFraudService } from './fraud/service.ts';
import { type BrokerServices, createHttp, type RouteDeps } from './http.ts';
import { issuanceRoutes } from './issuance/routes.ts';
import { createIssuanceService } from './issuance/service.ts';
import { keyRoutes } from './keys/routes.ts';
import { createKeyService } from './keys/service.ts';
import { createLedger } from './ledger/ledger.ts';
import { statementRoutes } from './ledger/routes.ts';
import { p2pRoutes } from './p2p/routes.ts';
import { createP2pService } from './p2p/service.ts';
import { partyRoutes } from './parties/routes.ts';
import { createPartyService } from './parties/service.ts';
import { redemptionRoutes } from './redemption/routes.ts';
import { createRedemptionService } from './redemption/service.ts';
import { refundRoutes } from './refunds/routes.ts';
import { createRefundService } from './refunds/service.ts';
import { createSettlementService } from './settlement/service.ts';
import { walletRoutes } from './wallet/routes.ts';
import { createWalletService } from './wallet/service.ts';

export interface BrokerOptions {
  readonly db: Db;
  readonly config?: BrokerConfigInput | BrokerConfig;
  readonly bank?: Bank | null;
  readonly clock?: () => number;
  readonly random?: (length: number) => Uint8Array;
  readonly logger?: LoggerOptions | boolean;
  /** Delivers device codes (SMS, e-mail). Default: the outbox table, readable at /dev/outbox in dev mode. */
  readonly notifier?: Notifier;
  /** What else the broker waits for before /healthz says ready (the bank): what is missing, or undefined. */
  readonly notReady?: () => string | undefined;
}

/**
 * The broker's features, each a folder with its service and its routes (the routes of the contract,
 * @netpay/api brokerApi). Settlement runs as an operator job (admin/routes.ts).
 */
const FEATURES: readonly ((app: Routable, d: RouteDeps) => void)[] = [
  keyRoutes,
  accountRoutes,
  issuanceRoutes,
  refundRoutes,
  statementRoutes,
  walletRoutes,
  partyRoutes,
  directoryRoutes,
  redemptionRoutes,
  p2pRoutes,
  adminRoutes,
];

/** The services over one context; each gets what it needs of the others. */
function createServices(ctx: BrokerContext): BrokerServices {
  const keys = createKeyService(ctx);
  const accounts = createAccountService(ctx);
  const parties = createPartyService(ctx);
  const issuance = createIssuanceService(ctx, keys);
  const directory = createDirectoryService({ ...ctx, leaseMs: ctx.config.leaseSeconds * 1000, parties });
  const fraud = createFraudService(ctx);
  const redemption = createRedemptionService(ctx, { parties, fraud });
  const refunds = createRefundService(ctx, { keys, parties });
  const settlement = createSettlementService(ctx);
  const wallet = createWalletService(ctx, { parties, customerBalance: issuance.customerBalance });
  const p2p = createP2pService({ ...ctx, parties, issuance });
  return {
    keys,
    accounts,
    parties,
    issuance,
    directory,
    fraud,
    redemption,
    refunds,
    settlement,
    wallet,
    p2p,
  };
}

/** Builds the broker: its services over one database, and the Fastify app that serves them. */
export function createBroker(options: BrokerOptions) {
  const config = parseBrokerConfig(options.config ?? {});
  const clock = options.clock ?? Date.now;
  const base = {
    db: options.db,
    config,
    clock,
    random: options.random ?? cryptoRandom,
    ledger: createLedger({ clock }),
    bank: options.bank ?? null,
  };
  const ctx: BrokerContext = { ...base, notifier: options.notifier ?? outboxNotifier(base) };
  const services = createServices(ctx);
  const { app: root } = createServiceApp({
    title: 'NetPay broker',
    description:
      'Sells hash-chain coins, keeps the chain directory, redeems, settles and refunds. See docs/broker.md.',
    logger: options.logger ?? false,
    trustedProxies: config.trustedProxies,
    health: async () => {
      await options.db.query('SELECT 1');
      const missing = options.notReady?.();
      if (missing) throw new Error(missing);
    },
  });
  const http = createHttp({ db: options.db, config, ctx, ...services });
  const deps: RouteDeps = { ...services, ...http, db: options.db, config, ctx };

  // HTML forms (the server-side wallet's sign-in page) post application/x-www-form-urlencoded.
  root.register(formbody);
  // Browser wallets run on other sites (a vendor's page, the web wallet) and call the customer API with a
  // bearer token: any origin may, without cookies (credentials are never sent cross-site).
  root.register(cors, {
    origin: true,
    credentials: false,
    methods: ['GET', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'idempotency-key'],
    exposedHeaders: ['idempotent-replayed'],
    maxAge: 600,
  });
  // Routes are registered in a plugin so the OpenAPI generator (registered first) sees every one of them.
  root.register(async (app) => {
    for (const routes of FEATURES) routes(app, deps);
  });

  return { app: root, services, config, ctx };
}

export type Broker = ReturnType<typeof createBroker>;
