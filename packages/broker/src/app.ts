import { timingSafeEqual } from 'node:crypto';
import cors from '@fastify/cors';
import formbody from '@fastify/formbody';
import { brokerApi as B, type Route } from '@netpay/api';
import type { Db } from '@netpay/db';
import {
  randomBytes as cryptoRandom,
  currency,
  formatAmount,
  fromBase64url,
  money,
  NetPayError,
  parseAmount,
  parseMinor,
} from '@netpay/protocol';
import {
  createServiceApp,
  type IdempotentResult,
  idempotent,
  idempotentCall,
  originalBody,
  type RouteRequest,
  requireIdempotencyKey,
  SIGNATURE_HEADERS,
  serve,
  verifySignedRequest,
} from '@netpay/service';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { LoggerOptions } from 'pino';
import { createAccountService } from './accounts/service.ts';
import type { Bank } from './bank.ts';
import { type BrokerConfig, type BrokerConfigInput, parseBrokerConfig } from './config.ts';
import { type BrokerContext, type Notifier, newId, nowSeconds, outboxNotifier } from './context.ts';
import { createDirectoryService } from './directory/service.ts';
import { fail } from './errors.ts';
import { createIssuanceService } from './issuance/service.ts';
import { createKeyService } from './keys/service.ts';
import { auditLedger, createLedger, customerAccount } from './ledger/ledger.ts';
import { createPartyService } from './parties/service.ts';
import { createRedemptionService } from './redemption/service.ts';
import { createRefundService, type RefundPending } from './refunds/service.ts';
import { createSettlementService } from './settlement/service.ts';
import { renderAuthorizePage } from './wallet/page.ts';
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
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

function idempotencyKey(req: FastifyRequest): string | undefined {
  const v = req.headers['idempotency-key'];
  return Array.isArray(v) ? v[0] : v;
}

const wire = (v: bigint) => v.toString();

/** The request's Idempotency-Key, checked like everywhere else (8–128 printable characters). */
const requireKey = (req: FastifyRequest) => requireIdempotencyKey(idempotencyKey(req));

/** Builds the broker: its services over one database, and the Fastify app that serves them. */
export function createBroker(options: BrokerOptions) {
  const config = parseBrokerConfig(options.config ?? {});
  const clock = options.clock ?? Date.now;
  const random = options.random ?? cryptoRandom;
  const base = {
    db: options.db,
    config,
    clock,
    random,
    ledger: createLedger({ clock }),
    bank: options.bank ?? null,
  };
  const ctx: BrokerContext = { ...base, notifier: options.notifier ?? outboxNotifier(base) };
  const keys = createKeyService(ctx);
  const accounts = createAccountService(ctx);
  const parties = createPartyService(ctx);
  const issuance = createIssuanceService(ctx, keys);
  const directory = createDirectoryService(ctx, parties);
  const redemption = createRedemptionService(ctx, parties);
  const refunds = createRefundService(ctx, { keys, parties });
  const settlement = createSettlementService(ctx);
  const wallet = createWalletService(ctx, { parties, customerBalance: issuance.customerBalance });
  const services = { keys, accounts, parties, issuance, directory, redemption, refunds, settlement, wallet };

  const { app: root } = createServiceApp({
    title: 'NetPay broker',
    description:
      'Sells hash-chain coins, keeps the chain directory, redeems, settles and refunds. See docs/broker.md.',
    logger: options.logger ?? false,
    health: async () => {
      await options.db.query('SELECT 1');
    },
  });

  const customer = (req: FastifyRequest) => accounts.authenticate(bearer(req));
  const party = (req: FastifyRequest) =>
    verifySignedRequest(
      { method: req.method, path: req.url, body: originalBody(req) ?? null, headers: req.headers },
      parties.publicKey,
      nowSeconds(ctx),
    );
  const admin = (req: FastifyRequest) => {
    if (!config.adminToken)
      throw fail('admin_disabled', 'admin endpoints are off: set adminToken in the broker config');
    const given = Buffer.from(bearer(req) ?? '');
    const expected = Buffer.from(config.adminToken);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw fail('unauthorized', 'admin token required');
    }
  };
  const keyArgs = (req: FastifyRequest, scope: string) => ({
    scope,
    key: idempotencyKey(req),
    request: { url: req.url, body: req.body ?? null },
    now: clock,
  });
  const answer = <T>(reply: FastifyReply, r: IdempotentResult<T>) => {
    reply.status(r.status);
    if (r.replayed) reply.header('idempotent-replayed', 'true');
    return r.body;
  };
  /** Idempotent by key for handlers that run their own transactions. */
  const keyed = async <T>(
    req: FastifyRequest,
    reply: FastifyReply,
    scope: string,
    fn: () => Promise<{ status?: number; body: T }>,
  ) => answer(reply, await idempotentCall(options.db, keyArgs(req, scope), fn));
  /** Idempotent by key, the answer recorded in the handler's own transaction (money movements). */
  const keyedTx = async <T>(
    req: FastifyRequest,
    reply: FastifyReply,
    scope: string,
    fn: Parameters<typeof idempotent<T>>[2],
  ) => answer(reply, await idempotent(options.db, keyArgs(req, scope), fn));
  const amount = (text: string) => {
    const r = parseMinor(text);
    if (!r.ok) throw fail('bad_request', r.error.message);
    return r.value as bigint;
  };

  const cur = currency(config.currency.code, config.currency.exponent);
  /** A cap typed on the sign-in page, in major units ("5.00"). */
  const capFromForm = (text: string) => {
    const r = parseAmount(text.trim(), cur);
    if (!r.ok || r.value.minor < 0n)
      throw fail('bad_request', `the cap must be an amount like 5.00 in ${cur.code}`);
    return r.value.minor as bigint;
  };
  const grantWire = <G extends { cap: bigint; spent: bigint; remaining: bigint }>(g: G) => ({
    ...g,
    cap: wire(g.cap),
    spent: wire(g.spent),
    remaining: wire(g.remaining),
  });

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
  root.register(async (scoped) => {
    const app = scoped.withTypeProvider<ZodTypeProvider>();
    // Public
    serve(app, B.config, async () => ({
      brokerId: config.brokerId,
      currency: config.currency.code,
      exponent: config.currency.exponent,
      denominations: config.denominations.map(wire),
      maxChainLength: config.maxChainLength,
      chainLifetimeSeconds: config.chainLifetimeSeconds,
      feeBasisPoints: config.feeBasisPoints,
      limits: Object.fromEntries(Object.entries(config.limits).map(([k, v]) => [k, wire(v)])),
    }));
    serve(app, B.keys, async () => ({ keys: await keys.list() }));

    // Customers
    serve(app, B.register, (req, reply) =>
      keyed(req, reply, 'register', async () => ({ status: 201, body: await accounts.register(req.body) })),
    );
    serve(app, B.verifyDevice, async (req) => {
      const r = await accounts.verifyDevice({ deviceId: req.params.deviceId, code: req.body.code });
      if (!r.ok) throw fail('code_invalid', 'the code is wrong', { attemptsLeft: r.attemptsLeft });
      return { session: r.session };
    });
    serve(app, B.resendCode, (req, reply) =>
      keyed(req, reply, `code:${req.params.deviceId}`, async () => {
        await accounts.resendCode(req.params.deviceId);
        return { status: 202, body: { sent: true } };
      }),
    );
    // Signing in (here and in device verification) creates a fresh session each time and takes no
    // Idempotency-Key: replaying the answer would mean storing bearer tokens in the clear.
    serve(app, B.login, async (req) => accounts.login(req.body));
    serve(app, B.logout, async (req, reply) => {
      await customer(req);
      await accounts.logout(bearer(req)!);
      reply.status(204);
    });
    serve(app, B.me, async (req) => {
      const p = await accounts.profile(await customer(req));
      return {
        ...p,
        balance: wire(p.balance),
        currency: config.currency.code,
        exponent: config.currency.exponent,
      };
    });
    serve(app, B.enrolTotp, async (req) => accounts.enrolTotp(await customer(req)));
    serve(app, B.confirmTotp, async (req, reply) => {
      const s = await customer(req);
      return keyed(req, reply, `totp:${s.customerId}`, async () => ({
        body: await accounts.confirmTotp(s, req.body.code),
      }));
    });
    serve(app, B.load, async (req) => {
      const s = await customer(req);
      const key = requireKey(req);
      const r = await issuance.load(s.customerId, { ...req.body, amount: amount(req.body.amount) }, key);
      return { movementId: r.movementId, amount: wire(r.amount), balance: wire(r.balance) };
    });
    serve(app, B.unload, async (req) => {
      const s = await customer(req);
      const key = requireKey(req);
      const r = await issuance.unload(s.customerId, { ...req.body, amount: amount(req.body.amount) }, key);
      return { movementId: r.movementId, amount: wire(r.amount), balance: wire(r.balance) };
    });
    serve(app, B.buy, async (req, reply) => {
      const s = await customer(req);
      const orders = req.body.chains.map((c) => ({ ...c, coinValue: amount(c.coinValue) }));
      return keyedTx(req, reply, `buy:${s.customerId}`, async (tx) => {
        const r = await issuance.buy(tx, s.customerId, orders, newId(ctx, 'buy'));
        return { status: 201, body: { chains: r.chains, total: wire(r.total), balance: wire(r.balance) } };
      });
    });
    serve(app, B.chains, async (req) => {
      const s = await customer(req);
      return {
        chains: (await issuance.chains(s.customerId)).map((c) => ({ ...c, coinValue: wire(c.coinValue) })),
      };
    });
    serve(app, B.chain, async (req) => {
      const s = await customer(req);
      const [c] = await issuance.chains(s.customerId, req.params.chainId);
      if (!c) throw fail('chain_not_found', 'you have no such chain');
      return { ...c, coinValue: wire(c.coinValue) };
    });
    serve(app, B.refund, async (req, reply) => {
      const s = await customer(req);
      // A pending refund (the holder's lease still runs) is answered 202 and not kept under the key:
      // asking again, with the same key or another, continues it.
      let pending: RefundPending | undefined;
      try {
        return await keyed(req, reply, `refund:${s.customerId}`, async () => {
          const r = await refunds.refund(s.customerId, req.params.chainId, req.body.spentIndex);
          if (r.status === 'pending') {
            pending = r;
            throw r;
          }
          return { body: { ...r, amount: wire(r.amount), balance: wire(r.balance) } };
        });
      } catch (e) {
        if (!pending || e !== pending) throw e;
        reply.header('retry-after', String(pending.retryAfter));
        return reply.status(202).send(pending);
      }
    });
    serve(app, B.send, async (req, reply) => {
      const s = await customer(req);
      return keyedTx(req, reply, `send:${s.customerId}`, async (tx) => {
        const r = await issuance.send(
          tx,
          s.customerId,
          { to: req.body.to, amount: amount(req.body.amount) },
          newId(ctx, 'send'),
        );
        return { status: 201, body: { to: r.to, amount: wire(r.amount), balance: wire(r.balance) } };
      });
    });
    serve(app, B.statement, async (req) => {
      const s = await customer(req);
      const account = customerAccount(s.customerId);
      const rows = await options.db.query<{
        id: string;
        debit_account: string;
        amount: bigint;
        kind: string;
        ref: string | null;
        created_at: bigint;
      }>(
        `SELECT id, debit_account, amount, kind, ref, created_at FROM ledger_transfers
       WHERE debit_account = $1 OR credit_account = $1 ORDER BY seq LIMIT 500`,
        [account],
      );
      return {
        entries: rows.map((r) => ({
          id: r.id,
          kind: r.kind,
          amount: wire(r.debit_account === account ? -r.amount : r.amount),
          ref: r.ref,
          createdAt: new Date(Number(r.created_at)).toISOString(),
        })),
      };
    });

    // Server-side wallets (docs/broker.md §17): sign-in redirect, vendor charges, customer caps.
    serve(app, B.authorizePage, async (req, reply) => {
      const q = req.query;
      const vendor = await wallet.vendorFor(q.vendor, q.redirect_uri);
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-store');
      return renderAuthorizePage({
        vendorId: vendor.id,
        vendorName: vendor.name,
        redirectUri: q.redirect_uri,
        state: q.state,
        cap: q.cap ?? formatAmount(money(config.wallet.defaultCap, cur)),
        period: q.period ?? 'day',
        currency: cur.code,
      });
    });
    // The sign-in page posts twice: login and password (a code goes to the login, as for a new device),
    // then the code and the cap. A signed-in app posts JSON once with its session (Authorization: Bearer).
    serve(app, B.authorize, async (req, reply) => {
      const b = req.body;
      const form = String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
      const page = (extra: {
        status?: number;
        error?: string;
        deviceId?: string;
        cap?: bigint;
        period?: 'day' | 'total';
      }) =>
        wallet.vendorFor(b.vendor, b.redirect_uri).then((vendor) => {
          reply
            .status(extra.status ?? 200)
            .type('text/html; charset=utf-8')
            .header('cache-control', 'no-store');
          return renderAuthorizePage({
            vendorId: vendor.id,
            vendorName: vendor.name,
            redirectUri: b.redirect_uri,
            state: b.state,
            cap:
              extra.cap !== undefined
                ? formatAmount(money(extra.cap, cur))
                : (b.capAmount ?? formatAmount(money(config.wallet.defaultCap, cur))),
            period: extra.period ?? b.period ?? 'day',
            currency: cur.code,
            login: b.login,
            error: extra.error,
            deviceId: extra.deviceId,
          });
        });
      const options = (cap: bigint | undefined) => ({
        vendorId: b.vendor,
        redirectUri: b.redirect_uri,
        ...(b.state !== undefined ? { state: b.state } : {}),
        ...(cap !== undefined ? { cap } : {}),
        ...(b.period ? { period: b.period } : {}),
      });
      if (!form) {
        const s = await customer(req);
        const r = await wallet.authorize(
          s.customerId,
          options(b.cap !== undefined ? amount(b.cap) : undefined),
        );
        return { redirect: r.redirect, grantId: r.grantId, cap: wire(r.cap), period: r.period };
      }
      await wallet.vendorFor(b.vendor, b.redirect_uri); // a bad vendor or redirect is a plain 4xx, no page
      try {
        if (!b.deviceId) {
          const who = await accounts.checkCredentials({
            login: b.login ?? '',
            password: b.password ?? '',
            totp: b.totp || undefined,
          });
          const deviceId = await accounts.newDeviceFor(
            who.customerId,
            who.login,
            `wallet sign-in for ${b.vendor}`,
          );
          const current = await wallet.capOf(who.customerId, b.vendor);
          return page({ deviceId, ...(current ? { cap: current.cap, period: current.period } : {}) });
        }
        // The cap is checked before the code is used up, so a typo in it can be fixed on the same page.
        const cap = b.capAmount !== undefined ? capFromForm(b.capAmount) : undefined;
        if (cap !== undefined && cap > config.wallet.maxCap)
          throw fail(
            'limit_exceeded',
            `a spending cap is at most ${formatAmount(money(config.wallet.maxCap, cur))}`,
          );
        const checked = await accounts.verifyDevice({ deviceId: b.deviceId, code: b.code ?? '' });
        if (!checked.ok)
          throw fail('code_invalid', 'the code is wrong', { attemptsLeft: checked.attemptsLeft });
        // The session only proved the code: this page signs the customer in for this grant alone.
        await accounts.logout(checked.session.token);
        const r = await wallet.authorize(checked.session.customerId, options(cap));
        return reply.redirect(r.redirect, 303);
      } catch (e) {
        // A person at the form sees the page again with what went wrong.
        if (!(e instanceof NetPayError) || (e.status ?? 500) >= 500) throw e;
        const again = b.deviceId && e.code !== 'code_expired' && e.code !== 'too_many_attempts';
        return page({ status: e.status, error: e.message, ...(again ? { deviceId: b.deviceId } : {}) });
      }
    });
    // The vendor trades the code for a token. Not keyed: replaying the answer would store the token.
    serve(app, B.walletToken, async (req) =>
      grantWire(await wallet.exchange(await party(req), req.body.code)),
    );
    serve(app, B.walletCharge, async (req, reply) => {
      const id = await party(req);
      return keyedTx(req, reply, `wallet-charge:${id}`, async (tx) => {
        const r = await wallet.charge(tx, id, { ...req.body, amount: amount(req.body.amount) });
        return { status: 201, body: { ...grantWire(r), amount: wire(r.amount), fee: wire(r.fee) } };
      });
    });
    serve(app, B.walletVoid, async (req, reply) => {
      const id = await party(req);
      return keyedTx(req, reply, `wallet-void:${id}`, async (tx) => {
        const r = await wallet.voidCharge(tx, id, req.params.chargeId);
        return { body: { ...r, amount: wire(r.amount) } };
      });
    });
    serve(app, B.grants, async (req) => {
      const s = await customer(req);
      return { grants: (await wallet.grants(s.customerId)).map(grantWire) };
    });
    serve(app, B.setCap, async (req) => {
      const s = await customer(req);
      return grantWire(
        await wallet.setCap(
          s.customerId,
          req.params.vendorId,
          amount(req.body.cap),
          req.body.period ?? undefined,
        ),
      );
    });
    serve(app, B.revoke, async (req, reply) => {
      const s = await customer(req);
      await wallet.revoke(s.customerId, req.params.vendorId);
      reply.status(204);
    });

    // Dev outbox: where device codes go when there is no SMS or e-mail provider.
    serve(app, B.outbox, async (req) => {
      if (!config.dev) throw fail('not_found', 'the outbox exists only in dev mode');
      const recipient = (req.query as { recipient?: string }).recipient;
      return { messages: await accounts.outbox(typeof recipient === 'string' ? recipient : undefined) };
    });

    // Vendors and peers (signed requests)
    serve(app, B.registerParty, async (req, reply) => {
      const key = fromBase64url(req.body.publicKey)!;
      const signer = await verifySignedRequest(
        { method: req.method, path: req.url, body: originalBody(req) ?? null, headers: req.headers },
        async (id) => (id === req.body.id ? key : undefined),
        nowSeconds(ctx),
      );
      if (signer !== req.body.id)
        throw fail('forbidden', `sign the registration with ${SIGNATURE_HEADERS.keyId}: ${req.body.id}`);
      return keyed(req, reply, `party:${req.body.id}`, async () => ({
        status: 201,
        body: await parties.register(req.body),
      }));
    });
    serve(app, B.party, async (req) => {
      const p = await parties.get(req.params.id);
      return { id: p.id, kind: p.kind, name: p.name, publicKey: p.publicKey, url: p.url };
    });
    serve(app, B.partyStatement, async (req) => redemption.statement(await party(req)));
    // Directory calls: signed by the vendor, keyed, one service call each.
    const signedRoute = <R extends Route>(
      r: R,
      run: (partyId: string, b: RouteRequest<R>['body']) => Promise<unknown>,
    ) =>
      serve(app, r, async (req, reply) => {
        const id = await party(req);
        return keyed(req, reply, `${r.path}:${id}`, async () => ({ body: await run(id, req.body) }));
      });
    signedRoute(B.claim, (id, b) => directory.claim(id, b.chainId));
    signedRoute(B.handover, (id, b) => directory.handover(id, b.index));
    signedRoute(B.backup, (id, b) => directory.backup(id, b.index));
    signedRoute(B.takeover, (id, b) => directory.takeover(id, b.chainId));
    serve(app, B.redeem, async (req, reply) => {
      const id = await party(req);
      return keyedTx(req, reply, `redeem:${id}`, async (tx) => ({
        body: { results: await redemption.redeem(tx, id, req.body.claims) },
      }));
    });

    // Operators
    serve(app, B.audit, async (req) => {
      admin(req);
      return auditLedger(options.db);
    });
    serve(app, B.evidence, async (req) => {
      admin(req);
      return { evidence: await redemption.evidence() };
    });
    serve(app, B.chainAccount, async (req) => {
      admin(req);
      const account = await redemption.chainAccount(req.params.chainId);
      if (!account) throw fail('chain_not_found', `no chain ${req.params.chainId}`);
      return account;
    });
    // Operator jobs: admin token, keyed, one service call each.
    const adminJob = (r: Route, run: () => Promise<unknown>) =>
      serve(app, r, async (req, reply) => {
        admin(req);
        return keyed(req, reply, r.path, async () => ({ body: await run() }));
      });
    adminJob(B.settle, () => settlement.run());
    adminJob(B.rotateKey, async () => ({ keyId: (await keys.rotate()).keyId }));
    adminJob(B.expire, () => refunds.closeExpired());
    adminJob(B.completeRefunds, () => refunds.completePending());
    adminJob(B.reconcile, () => issuance.reconcile());
    serve(app, B.invite, async (req, reply) => {
      admin(req);
      return keyed(req, reply, '/admin/invitations', async () => ({
        status: 201,
        body: await parties.invite(req.body),
      }));
    });
    serve(app, B.settlementRuns, async (req) => {
      admin(req);
      return { runs: await settlement.runs() };
    });
  });

  return { app: root, services, config, ctx };
}

export type Broker = ReturnType<typeof createBroker>;
