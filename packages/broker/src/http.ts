/**
 * The broker's HTTP plumbing that every feature's routes share: who is calling (a customer's session, a
 * party's signed request, the operator's token), idempotency by key, and amounts on the wire. The routes
 * get it, with the services, as one dependencies object (RouteDeps).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Db } from '@netpay/db';
import { currency, parseAmount, parseMinor } from '@netpay/protocol';
import {
  headerValue,
  type IdempotentResult,
  idempotent,
  idempotentCall,
  originalBody,
  requireIdempotencyKey,
  verifySignedRequest,
} from '@netpay/service';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccountService } from './accounts/service.ts';
import type { BrokerConfig } from './config.ts';
import { type BrokerContext, nowSeconds } from './context.ts';
import type { DirectoryService } from './directory/service.ts';
import { fail } from './errors.ts';
import type { FraudService } from './fraud/service.ts';
import { tokenGuard } from './guard/tokens.ts';
import type { IssuanceService } from './issuance/service.ts';
import type { KeyService } from './keys/service.ts';
import type { P2pService } from './p2p/service.ts';
import type { PartyService } from './parties/service.ts';
import type { RedemptionService } from './redemption/service.ts';
import type { RefundService } from './refunds/service.ts';
import type { SettlementService } from './settlement/service.ts';
import type { WalletService } from './wallet/service.ts';

export function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

const idempotencyKey = (req: FastifyRequest) => headerValue(req.headers, 'idempotency-key');

export const wire = (v: bigint) => v.toString();

/** The request's Idempotency-Key, checked like everywhere else (8–128 printable characters). */
export const requireKey = (req: FastifyRequest) => requireIdempotencyKey(idempotencyKey(req));

interface HttpDeps {
  readonly db: Db;
  readonly config: BrokerConfig;
  readonly ctx: BrokerContext;
  readonly accounts: AccountService;
  readonly parties: PartyService;
}

/**
 * The callers' checks: a customer's session, a party's signature, the operator's token. Wrong bearer
 * tokens are counted per client address, and too many lock it out for a while (guard/tokens.ts).
 */
function callers({ db, config, ctx, accounts, parties }: HttpDeps) {
  const guarded = tokenGuard({ db, clock: ctx.clock, config });
  const customer = (req: FastifyRequest) => {
    const token = bearer(req);
    return token ? guarded(req.ip, () => accounts.authenticate(token)) : accounts.authenticate(token);
  };
  const party = (req: FastifyRequest) =>
    verifySignedRequest(
      { method: req.method, path: req.url, body: originalBody(req) ?? null, headers: req.headers },
      parties.publicKey,
      nowSeconds(ctx),
    );
  const checkAdmin = (token: string | undefined) => {
    const given = Buffer.from(token ?? '');
    const expected = Buffer.from(config.adminToken ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw fail('unauthorized', 'admin token required');
    }
  };
  const admin = async (req: FastifyRequest) => {
    if (!config.adminToken)
      throw fail('admin_disabled', 'admin endpoints are off: set adminToken in the broker config');
    const token = bearer(req);
    if (token) await guarded(req.ip, () => checkAdmin(token));
    else checkAdmin(token);
  };
  return { customer, party, admin };
}

/** Idempotency by the request's key (docs/broker.md §5): the answer kept and replayed under it. */
function keying({ db, ctx }: HttpDeps) {
  const keyArgs = (req: FastifyRequest, scope: string) => ({
    scope,
    key: idempotencyKey(req),
    request: { url: req.url, body: req.body ?? null },
    now: ctx.clock,
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
  ) => answer(reply, await idempotentCall(db, keyArgs(req, scope), fn));
  /** Idempotent by key, the answer recorded in the handler's own transaction (money movements). */
  const keyedTx = async <T>(
    req: FastifyRequest,
    reply: FastifyReply,
    scope: string,
    fn: Parameters<typeof idempotent<T>>[2],
  ) => answer(reply, await idempotent(db, keyArgs(req, scope), fn));
  return { keyed, keyedTx };
}

/** Amounts: minor units on the wire, a cap typed in major units on the sign-in page, grants as sent. */
function amounts({ config }: HttpDeps) {
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
  return { amount, cur, capFromForm, grantWire };
}

export function createHttp(deps: HttpDeps) {
  return { ...callers(deps), ...keying(deps), ...amounts(deps) };
}
export type BrokerHttp = ReturnType<typeof createHttp>;

/** The broker's services, one per feature (each feature folder's service.ts). */
export interface BrokerServices {
  readonly keys: KeyService;
  readonly accounts: AccountService;
  readonly parties: PartyService;
  readonly issuance: IssuanceService;
  readonly directory: DirectoryService;
  readonly fraud: FraudService;
  readonly redemption: RedemptionService;
  readonly refunds: RefundService;
  readonly settlement: SettlementService;
  readonly wallet: WalletService;
  readonly p2p: P2pService;
}

/** What every feature's routes get: the services, the HTTP plumbing, the database, config and context. */
export type RouteDeps = BrokerServices &
  BrokerHttp & { readonly db: Db; readonly config: BrokerConfig; readonly ctx: BrokerContext };
