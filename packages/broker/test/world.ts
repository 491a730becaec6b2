/**
 * A test world: the real bank service and the real broker on loopback, the broker on PGlite or a fresh
 * PostgreSQL database, a clock tests can move, and helpers that talk HTTP like a wallet or a vendor would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BankClient, createBankClient, startBank } from '@netpay/bank';
import { type Db, migrate } from '@netpay/db';
import { openTestDatabase, seedPgliteDataDir, type TestDatabaseKind } from '@netpay/db/testing';
import {
  ChainTraversal,
  createSigner,
  currency,
  type Ed25519Signer,
  fromBase64url,
  type Payment,
  randomBytes,
  toBase64url,
} from '@netpay/protocol';
import { signRequest } from '@netpay/service';
import { expect } from 'vitest';
import { createBroker } from '../src/app.ts';
import type { Bank } from '../src/bank.ts';
import type { BrokerConfigInput } from '../src/config.ts';
import { httpBank } from '../src/http-bank.ts';
import { BROKER_MIGRATIONS } from '../src/migrations.ts';

export const ADMIN = 'admin-token-for-tests-0123456789';
export const START = Date.UTC(2026, 10, 1);

export interface CallOptions {
  body?: unknown;
  token?: string;
  key?: string | false;
  signer?: { id: string; signer: Ed25519Signer };
  headers?: Record<string, string>;
}

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface Customer {
  login: string;
  customerId: string;
  token: string;
  bankAccount: string;
  bankToken: string;
}

export interface Vendor {
  id: string;
  signer: Ed25519Signer;
  bankAccount: string;
  bankToken: string;
}

let keyCounter = 0;
export const freshKey = () => `key-${Date.now()}-${++keyCounter}-${toBase64url(randomBytes(6))}`;

export async function startWorld(
  kind: TestDatabaseKind,
  options: { config?: BrokerConfigInput; wrapBank?: (bank: Bank) => Bank; db?: Db } = {},
) {
  const bankDir = mkdtempSync(join(tmpdir(), 'netpay-bank-'));
  seedPgliteDataDir(bankDir);
  const bank = await startBank({
    port: 0,
    dev: true,
    dataDir: bankDir,
    currency: currency('USD', 4),
    logger: false,
  });
  const bankClient: BankClient = createBankClient(bank.url);
  const own = await bankClient.createAccount({ name: 'broker' });
  const db = options.db ?? (await openTestDatabase(kind));
  await migrate(db, BROKER_MIGRATIONS);
  let now = START;
  const clock = () => now;
  const adapter = httpBank(bankClient);
  const broker = createBroker({
    db,
    clock,
    bank: options.wrapBank ? options.wrapBank(adapter) : adapter,
    config: {
      dev: true,
      adminToken: ADMIN,
      argon2: { t: 1, m: 64, p: 1 },
      bank: { account: own.id, token: own.token },
      ...options.config,
    },
  });
  await broker.app.listen({ port: 0, host: '127.0.0.1' });
  const address = broker.app.server.address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;

  async function call<T = any>(method: string, path: string, o: CallOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...o.headers };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.key !== false && method !== 'GET') headers['idempotency-key'] = o.key ?? freshKey();
    if (o.signer) {
      Object.assign(
        headers,
        signRequest(
          o.signer.signer,
          o.signer.id,
          { method, path, body: o.body ?? null },
          Math.floor(now / 1000),
        ),
      );
    }
    const res = await fetch(url + path, {
      method,
      headers,
      ...(o.body !== undefined ? { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  async function latestCode(login: string): Promise<string> {
    const r = await call('GET', `/dev/outbox?recipient=${encodeURIComponent(login)}`);
    const last = r.body.messages.at(-1);
    return /(\d{6})/.exec(last.body)![1]!;
  }

  async function newCustomer(name = `user${++keyCounter}`, funds = 1_000_000n, load = 0n): Promise<Customer> {
    const login = `${name}-${toBase64url(randomBytes(4)).toLowerCase()}@example.com`;
    const reg = await call('POST', '/customers', {
      body: { login, password: 'correct horse battery', deviceName: 'test' },
    });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const code = await latestCode(login);
    const v = await call('POST', `/devices/${reg.body.deviceId}/verify`, { body: { code } });
    expect(v.status).toBe(200);
    const acct = await bankClient.createAccount({ name, initialBalance: funds });
    const c: Customer = {
      login,
      customerId: reg.body.customerId,
      token: v.body.session.token,
      bankAccount: acct.id,
      bankToken: acct.token,
    };
    if (load > 0n) {
      const l = await call('POST', '/me/load', {
        token: c.token,
        body: { amount: load.toString(), bankAccount: c.bankAccount, bankToken: c.bankToken },
      });
      expect(l.status, JSON.stringify(l.body)).toBe(200);
    }
    return c;
  }

  async function newVendor(
    id = `vendor-${++keyCounter}-${toBase64url(randomBytes(3))}`,
    withBank = true,
    /** Where other vendors reach it for hand-overs; none: it cannot be reached. */
    url?: string,
  ): Promise<Vendor> {
    const signer = createSigner(randomBytes(32));
    const acct = await bankClient.createAccount({ name: id });
    const r = await call('POST', '/parties', {
      signer: { id, signer },
      body: {
        id,
        name: `Vendor ${id}`,
        publicKey: toBase64url(signer.publicKey),
        ...(withBank ? { bankAccount: acct.id } : {}),
        ...(url ? { url } : {}),
      },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return { id, signer, bankAccount: acct.id, bankToken: acct.token };
  }

  const asVendor = (v: Vendor) => ({ id: v.id, signer: v.signer });

  async function audit() {
    const r = await call('GET', '/admin/audit', { token: ADMIN });
    expect(r.status).toBe(200);
    expect(r.body, JSON.stringify(r.body)).toMatchObject({
      ok: true,
      sumOfBalances: '0',
      mismatched: [],
      negative: [],
    });
    return r.body;
  }

  return {
    url,
    broker,
    db,
    bank,
    bankClient,
    brokerBankAccount: own,
    call,
    latestCode,
    newCustomer,
    newVendor,
    asVendor,
    audit,
    clock,
    advance(ms: number) {
      now += ms;
    },
    async close() {
      await broker.app.close();
      await db.close();
      await bank.close();
      rmSync(bankDir, { recursive: true, force: true });
    },
  };
}

export type World = Awaited<ReturnType<typeof startWorld>>;

/** A chain as a client-side wallet makes it: the broker only ever sees chainId and root. */
export function clientChain(n: number) {
  const id = randomBytes(16);
  const { traversal, root } = ChainTraversal.create(randomBytes(32), id, n);
  return { chainId: toBase64url(id), root: toBase64url(root), traversal };
}

/**
 * A chain of `n` coins of `coinValue` that the customer bought for its client-side wallet, with every
 * payword (`words[0]` is the root), its touchstone, and `pay(i)`: the payment of the coins up to index i.
 */
export async function boughtChain(w: World, c: { token: string }, n: number, coinValue = '10') {
  const chain = clientChain(n);
  const r = await w.call('POST', '/me/chains', {
    token: c.token,
    body: { chains: [{ coinValue, n, chainId: chain.chainId, root: chain.root }] },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const words = [fromBase64url(chain.root)!];
  for (let i = 1; i <= n; i++) words.push(chain.traversal.next()!.payword);
  const pay = (index: number, payword = words[index]!): Payment => ({
    v: 1,
    parts: [{ chainId: chain.chainId, index, payword: toBase64url(payword) }],
  });
  return { chainId: chain.chainId, words, touchstone: r.body.chains[0].touchstone, pay };
}
