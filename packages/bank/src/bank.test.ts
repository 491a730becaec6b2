import { type AddressInfo, createServer } from 'node:net';
import { bankApi, operationsIn, operationsOf } from '@netpay/api';
import { type Db, migrate } from '@netpay/db';
import { describeEachDatabase } from '@netpay/db/testing';
import { NetPayError } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BankClient, createBankClient } from './client.ts';
import { BANK_MIGRATIONS } from './migrations.ts';
import { buildBankApp } from './routes.ts';
import { createBankService } from './service.ts';
import type { CreatedAccount } from './wire.ts';

const START_MS = Date.UTC(2026, 10, 26, 12, 0, 0);

async function serve(db: Db, options: { dev?: boolean } = {}) {
  let t = START_MS;
  const service = createBankService({ db, clock: { now: () => t++ }, dev: options.dev ?? true });
  const { app } = buildBankApp({ service });
  let delayNextTransferMs = 0;
  // Test hook: hold back one transfer answer after it has been committed, as a slow network would.
  app.addHook('onSend', async (req) => {
    if (req.method === 'POST' && req.url === '/transfers' && delayNextTransferMs > 0) {
      const ms = delayNextTransferMs;
      delayNextTransferMs = 0;
      await new Promise((r) => setTimeout(r, ms));
    }
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    url,
    app,
    client: createBankClient(url),
    delayNextTransfer(ms: number) {
      delayNextTransferMs = ms;
    },
  };
}

type Server = Awaited<ReturnType<typeof serve>>;

async function raw(
  url: string,
  method: string,
  path: string,
  init: {
    token?: string;
    key?: string;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
  } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.key !== undefined) headers['idempotency-key'] = init.key;
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

let keyCounter = 0;
const newKey = () => `test-key-${Date.now()}-${++keyCounter}`;

async function expectBankError(p: Promise<unknown>, status: number, code: string) {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(NetPayError);
  expect(e).toMatchObject({ status, code });
}

describeEachDatabase('bank HTTP API', (open) => {
  let db: Db;
  let server: Server;
  let bank: BankClient;

  beforeAll(async () => {
    db = await open();
    await migrate(db, BANK_MIGRATIONS);
    server = await serve(db);
    bank = server.client;
  });
  afterAll(async () => {
    await server?.app.close();
  });

  /** Both balances, every statement line and the number of transfers: what "nothing changed" means. */
  async function snapshot(...accounts: CreatedAccount[]) {
    const [count] = await db.query<{ n: bigint }>('SELECT count(*)::bigint AS n FROM bank_transfers');
    return {
      transfers: count?.n,
      accounts: await Promise.all(
        accounts.map(async (a) => ({
          account: await bank.getAccount(a.token, a.id),
          statement: await bank.statement(a.token, a.id, { limit: 200 }),
        })),
      ),
    };
  }

  it('serves /healthz, /info and OpenAPI docs', async () => {
    expect((await raw(server.url, 'GET', '/healthz')).json).toEqual({ status: 'ok' });
    expect(await bank.info()).toEqual({ currency: { code: 'USD', exponent: 2 }, dev: true });
    const docs = await raw(server.url, 'GET', '/docs/json');
    // The document lists exactly the contract's routes (@netpay/api bankApi), no more and no less.
    expect(operationsIn(docs.json as never)).toEqual(operationsOf(bankApi));
    expect(operationsOf(bankApi)).toContain('POST /transfers');
  });

  it('opens accounts, with an opening balance in dev mode, and shows them to their token', async () => {
    const alice = await bank.createAccount({ name: 'Alice', initialBalance: 10_000n });
    expect(alice).toMatchObject({ name: 'Alice', balance: 10_000n });
    expect(alice.id).toMatch(/^acc_[A-Za-z0-9_-]{22}$/);
    expect(alice.token).toMatch(/^bkt_[A-Za-z0-9_-]{43}$/);
    expect(await bank.getAccount(alice.token, alice.id)).toEqual({
      id: alice.id,
      name: 'Alice',
      balance: 10_000n,
    });

    const empty = await bank.createAccount({ name: 'Empty' });
    expect(empty.balance).toBe(0n);
    expect((await bank.statement(empty.token, empty.id)).entries).toEqual([]);

    const [stored] = await db.query<{ token_hash: string }>(
      'SELECT token_hash FROM bank_accounts WHERE id = $1',
      [alice.id],
    );
    expect(stored?.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored?.token_hash).not.toContain(alice.token);
  });

  it('rejects bad account requests with 400 and creates nothing', async () => {
    const [before] = await db.query<{ n: bigint }>('SELECT count(*)::bigint AS n FROM bank_accounts');
    const bad: unknown[] = [
      {},
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(101) },
      { name: 'a\nb' },
      { name: 5 },
      { name: 'ok', initialBalance: '1.5' },
      { name: 'ok', initialBalance: '-1' },
      { name: 'ok', initialBalance: 100 },
      { name: 'ok', initialBalance: '99999999999999999999' },
      { name: 'ok', extra: true },
    ];
    for (const body of bad) {
      const res = await raw(server.url, 'POST', '/accounts', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.code).toBe('bad_request');
      expect(typeof res.json.message).toBe('string');
    }
    const notJson = await raw(server.url, 'POST', '/accounts', { rawBody: '{"name":' });
    // @netpay/service maps unparsable JSON to bad_request today; bad_json is its documented intent.
    expect(notJson).toMatchObject({
      status: 400,
      json: { code: expect.stringMatching(/^bad_(json|request)$/) },
    });
    const [after] = await db.query<{ n: bigint }>('SELECT count(*)::bigint AS n FROM bank_accounts');
    expect(after?.n).toBe(before?.n);
  });

  it('allows an opening balance only in dev mode', async () => {
    const prod = await serve(db, { dev: false });
    try {
      await expectBankError(
        prod.client.createAccount({ name: 'Mallory', initialBalance: 1n }),
        403,
        'initial_balance_not_allowed',
      );
      expect((await prod.client.createAccount({ name: 'Plain' })).balance).toBe(0n);
      expect((await prod.client.info()).dev).toBe(false);
    } finally {
      await prod.app.close();
    }
  });

  it('answers 401 without a valid token and 403 with another account’s token', async () => {
    const a = await bank.createAccount({ name: 'A', initialBalance: 500n });
    const b = await bank.createAccount({ name: 'B' });
    const unknownToken = `bkt_${'A'.repeat(43)}`;
    for (const path of [`/accounts/${a.id}`, `/accounts/${a.id}/statement`, '/transfers?key=some-key-123']) {
      expect((await raw(server.url, 'GET', path)).json.code).toBe('unauthorized');
      for (const authorization of [
        'Bearer',
        `Basic ${a.token}`,
        `Bearer ${unknownToken}`,
        'Bearer nonsense',
      ]) {
        const res = await raw(server.url, 'GET', path, { headers: { authorization } });
        expect(res, `${path} ${authorization}`).toMatchObject({
          status: 401,
          json: { code: 'unauthorized' },
        });
      }
    }
    await expectBankError(bank.getAccount(b.token, a.id), 403, 'forbidden');
    await expectBankError(bank.statement(b.token, a.id), 403, 'forbidden');
    const res = await raw(server.url, 'POST', '/transfers', {
      key: newKey(),
      body: { from: a.id, to: b.id, amount: '1' },
    });
    expect(res).toMatchObject({ status: 401, json: { code: 'unauthorized' } });
    // the payee's token cannot pull money
    await expectBankError(
      bank.transfer(b.token, newKey(), { from: a.id, to: b.id, amount: 1n }),
      403,
      'forbidden',
    );
    expect((await bank.getAccount(a.token, a.id)).balance).toBe(500n);
  });

  it('transfers money and shows the transfer to both parties only', async () => {
    const a = await bank.createAccount({ name: 'Payer', initialBalance: 1_000n });
    const b = await bank.createAccount({ name: 'Payee', initialBalance: 50n });
    const c = await bank.createAccount({ name: 'Stranger' });
    const key = newKey();
    const t = await bank.transfer(a.token, key, {
      from: a.id,
      to: b.id,
      amount: 250n,
      reference: 'order 42',
    });
    expect(t).toMatchObject({ from: a.id, to: b.id, amount: 250n, reference: 'order 42', key });
    expect(t.id).toMatch(/^tr_/);
    expect(Date.parse(t.createdAt)).toBeGreaterThanOrEqual(START_MS);
    expect((await bank.getAccount(a.token, a.id)).balance).toBe(750n);
    expect((await bank.getAccount(b.token, b.id)).balance).toBe(300n);
    expect(await bank.getTransfer(a.token, t.id)).toEqual(t);
    expect(await bank.getTransfer(b.token, t.id)).toEqual(t);
    expect(await bank.findTransferByKey(a.token, key)).toEqual(t);
    // the payee may look the payment up by the key too (a merchant checking it was paid); nobody else can
    expect(await bank.findTransferByKey(b.token, key)).toEqual(t);
    expect(await bank.findTransferByKey(c.token, key)).toBeUndefined();
    await expectBankError(bank.getTransfer(c.token, t.id), 404, 'transfer_not_found');

    const sa = await bank.statement(a.token, a.id);
    expect(sa.entries.map((e) => [e.kind, e.amount, e.balanceAfter, e.counterparty, e.reference])).toEqual([
      ['opening', 1_000n, 1_000n, null, null],
      ['debit', -250n, 750n, b.id, 'order 42'],
    ]);
    const sb = await bank.statement(b.token, b.id);
    expect(sb.entries.at(-1)).toMatchObject({
      kind: 'credit',
      amount: 250n,
      balanceAfter: 300n,
      counterparty: a.id,
    });
    expect(sb.entries.at(-1)?.transferId).toBe(t.id);
  });

  it('refuses a transfer beyond the balance with 409 insufficient_funds and changes nothing', async () => {
    const a = await bank.createAccount({ name: 'Poor', initialBalance: 100n });
    const b = await bank.createAccount({ name: 'Rich', initialBalance: 5n });
    const before = await snapshot(a, b);
    const key = newKey();
    await expectBankError(
      bank.transfer(a.token, key, { from: a.id, to: b.id, amount: 101n }),
      409,
      'insufficient_funds',
    );
    expect(await snapshot(a, b)).toEqual(before);
    expect(await bank.findTransferByKey(a.token, key)).toBeUndefined();
    // the key was not used up: once the money is there, the same request goes through
    await bank.transfer(b.token, newKey(), { from: b.id, to: a.id, amount: 1n });
    const t = await bank.transfer(a.token, key, { from: a.id, to: b.id, amount: 101n });
    expect(t.amount).toBe(101n);
    expect((await bank.getAccount(a.token, a.id)).balance).toBe(0n);
  });

  it('rejects malformed transfers with a 4xx code and changes nothing', async () => {
    const a = await bank.createAccount({ name: 'A', initialBalance: 1_000n });
    const b = await bank.createAccount({ name: 'B', initialBalance: 1_000n });
    const before = await snapshot(a, b);
    const ok = { from: a.id, to: b.id, amount: '10' };
    const unknownAccount = `acc_${'B'.repeat(22)}`;
    const cases: { body?: unknown; rawBody?: string; key?: string | null; status: number; code: string }[] = [
      { body: { ...ok, amount: '1.5' }, status: 400, code: 'bad_request' },
      { body: { ...ok, amount: '-1' }, status: 400, code: 'bad_request' },
      { body: { ...ok, amount: 1.5 }, status: 400, code: 'bad_request' },
      { body: { ...ok, amount: 10 }, status: 400, code: 'bad_request' },
      { body: { ...ok, amount: '0' }, status: 400, code: 'bad_request' },
      { body: { ...ok, amount: '010' }, status: 400, code: 'bad_request' },
      { body: { ...ok, amount: '1e3' }, status: 400, code: 'bad_request' },
      { body: { ...ok, amount: '' }, status: 400, code: 'bad_request' },
      { body: { ...ok, amount: '9223372036854775808' }, status: 400, code: 'bad_request' },
      { body: { from: a.id, to: b.id }, status: 400, code: 'bad_request' },
      { body: { ...ok, memo: 'hi' }, status: 400, code: 'bad_request' },
      { body: { ...ok, to: 'acc_short' }, status: 400, code: 'bad_request' },
      { body: { ...ok, reference: 'x'.repeat(201) }, status: 400, code: 'bad_request' },
      { body: { ...ok, reference: 'bad\u0000ref' }, status: 400, code: 'invalid_characters' },
      { body: { ...ok, reference: 'lone \ud800 surrogate' }, status: 400, code: 'invalid_characters' },
      { body: [ok], status: 400, code: 'bad_request' },
      { rawBody: '{"from":', status: 400, code: 'bad_json|bad_request' },
      { body: { ...ok, to: a.id }, status: 400, code: 'same_account' },
      { body: { ...ok, to: unknownAccount }, status: 404, code: 'account_not_found' },
      { body: ok, key: null, status: 400, code: 'idempotency_key_required' },
      { body: ok, key: 'short', status: 400, code: 'idempotency_key_required' },
      { body: ok, key: 'has spaces in it', status: 400, code: 'idempotency_key_required' },
    ];
    for (const c of cases) {
      const key = c.key === null ? undefined : (c.key ?? newKey());
      const res = await raw(server.url, 'POST', '/transfers', {
        token: a.token,
        ...(key !== undefined ? { key } : {}),
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.rawBody !== undefined ? { rawBody: c.rawBody } : {}),
      });
      const label = JSON.stringify(c);
      expect(res.status, label).toBe(c.status);
      expect(c.code.split('|'), label).toContain(res.json.code);
      expect(typeof res.json.message, label).toBe('string');
    }
    expect(await snapshot(a, b)).toEqual(before);
  });

  it('replays the same answer for the same key and body, and refuses the key with another body', async () => {
    const a = await bank.createAccount({ name: 'A', initialBalance: 1_000n });
    const b = await bank.createAccount({ name: 'B' });
    const key = newKey();
    const body = { from: a.id, to: b.id, amount: '100', reference: 'once' };
    const first = await raw(server.url, 'POST', '/transfers', { token: a.token, key, body });
    const second = await raw(server.url, 'POST', '/transfers', { token: a.token, key, body });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.json).toEqual(first.json);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.headers.get('idempotent-replayed')).toBe('true');

    for (const other of [
      { ...body, amount: '101' },
      { ...body, reference: 'twice' },
      { from: a.id, to: b.id, amount: '100' },
    ]) {
      const res = await raw(server.url, 'POST', '/transfers', { token: a.token, key, body: other });
      expect(res).toMatchObject({ status: 409, json: { code: 'idempotency_conflict' } });
    }
    expect((await bank.getAccount(a.token, a.id)).balance).toBe(900n);
    expect((await bank.getAccount(b.token, b.id)).balance).toBe(100n);
  });

  it('makes exactly one transfer when the same key arrives several times at once', async () => {
    const a = await bank.createAccount({ name: 'A', initialBalance: 1_000n });
    const b = await bank.createAccount({ name: 'B' });
    const key = newKey();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => bank.transfer(a.token, key, { from: a.id, to: b.id, amount: 70n })),
    );
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect((await bank.getAccount(a.token, a.id)).balance).toBe(930n);
    expect((await bank.getAccount(b.token, b.id)).balance).toBe(70n);
    const [count] = await db.query<{ n: bigint }>(
      'SELECT count(*)::bigint AS n FROM bank_transfers WHERE from_account = $1',
      [a.id],
    );
    expect(count?.n).toBe(1n);
  });

  it('keeps balances whole and non-negative under many concurrent transfers both ways', async () => {
    const a = await bank.createAccount({ name: 'A', initialBalance: 300n });
    const b = await bank.createAccount({ name: 'B', initialBalance: 300n });
    const amounts = Array.from({ length: 60 }, (_, i) => BigInt(((i * 37) % 90) + 1));
    const outcomes = await Promise.allSettled(
      amounts.map((amount, i) => {
        const [payer, payee] = i % 2 === 0 ? [a, b] : [b, a];
        return bank.transfer(payer.token, newKey(), { from: payer.id, to: payee.id, amount });
      }),
    );
    let aToB = 0n;
    let bToA = 0n;
    for (const o of outcomes) {
      if (o.status === 'rejected') {
        expect(o.reason).toMatchObject({ status: 409, code: 'insufficient_funds' });
        continue;
      }
      if (o.value.from === a.id) aToB += o.value.amount;
      else bToA += o.value.amount;
    }
    expect(outcomes.some((o) => o.status === 'fulfilled')).toBe(true);
    const balanceA = (await bank.getAccount(a.token, a.id)).balance;
    const balanceB = (await bank.getAccount(b.token, b.id)).balance;
    expect(balanceA + balanceB).toBe(600n);
    expect(balanceA).toBe(300n - aToB + bToA);
    expect(balanceA >= 0n && balanceB >= 0n).toBe(true);
    for (const acc of [a, b]) {
      const { entries } = await bank.statement(acc.token, acc.id, { limit: 200 });
      let running = 0n;
      for (const e of entries) {
        running += e.amount;
        expect(e.balanceAfter).toBe(running);
        expect(e.balanceAfter >= 0n).toBe(true);
      }
      expect(running).toBe(acc === a ? balanceA : balanceB);
      expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => BigInt(i + 1)));
    }
  });

  it('pages through a statement, oldest first', async () => {
    const a = await bank.createAccount({ name: 'A', initialBalance: 1_000n });
    const b = await bank.createAccount({ name: 'B' });
    for (let i = 1; i <= 6; i++) {
      await bank.transfer(a.token, newKey(), { from: a.id, to: b.id, amount: BigInt(i), reference: `#${i}` });
    }
    const seen: bigint[] = [];
    const refs: (string | null)[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await bank.statement(a.token, a.id, { limit: 3, after });
      expect(page.entries.length).toBeLessThanOrEqual(3);
      seen.push(...page.entries.map((e) => e.amount));
      refs.push(...page.entries.map((e) => e.reference));
      after = page.next ?? undefined;
      pages++;
    } while (after !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual([1_000n, -1n, -2n, -3n, -4n, -5n, -6n]);
    expect(refs).toEqual([null, '#1', '#2', '#3', '#4', '#5', '#6']);
    const all = await bank.statement(a.token, a.id);
    expect(all.next).toBeNull();
    expect(all.entries.at(-1)?.balanceAfter).toBe(979n);
    const times = all.entries.map((e) => Date.parse(e.createdAt));
    expect([...times].sort((x, y) => x - y)).toEqual(times);

    for (const qs of ['limit=0', 'limit=201', 'limit=abc', 'limit=1.5', 'after=-1', 'after=x', 'page=2']) {
      const res = await raw(server.url, 'GET', `/accounts/${a.id}/statement?${qs}`, { token: a.token });
      expect(res, qs).toMatchObject({ status: 400, json: { code: 'bad_request' } });
    }
    const wire = await raw(server.url, 'GET', `/accounts/${a.id}/statement?limit=2&after=1`, {
      token: a.token,
    });
    expect(wire.json).toMatchObject({
      accountId: a.id,
      entries: [
        { amount: '-1', balanceAfter: '999' },
        { amount: '-2', balanceAfter: '997' },
      ],
      next: '3',
    });
  });

  it('lets a client whose transfer timed out find it by key, and resend it safely', async () => {
    const a = await bank.createAccount({ name: 'A', initialBalance: 1_000n });
    const b = await bank.createAccount({ name: 'B' });
    const impatient = createBankClient(server.url, { timeoutMs: 100 });
    const key = newKey();
    server.delayNextTransfer(400);
    const failure = await impatient
      .transfer(a.token, key, { from: a.id, to: b.id, amount: 5n })
      .catch((e) => e);
    expect(failure).toBeInstanceOf(NetPayError);
    expect(failure).toMatchObject({
      code: 'bank_unreachable',
      status: 503,
      details: { reason: 'timeout' },
    });
    const found = await bank.findTransferByKey(a.token, key);
    expect(found).toMatchObject({ from: a.id, to: b.id, amount: 5n, key });
    const resent = await bank.transfer(a.token, key, { from: a.id, to: b.id, amount: 5n });
    expect(resent).toEqual(found);
    expect((await bank.getAccount(a.token, a.id)).balance).toBe(995n);
    expect(await bank.findTransferByKey(a.token, newKey())).toBeUndefined();
  });

  it('rejects malformed ids and keys in paths and queries with 400', async () => {
    const a = await bank.createAccount({ name: 'A' });
    for (const path of [
      '/accounts/nope',
      '/accounts/nope/statement',
      '/transfers/nope',
      '/transfers',
      '/transfers?key=x',
    ]) {
      const res = await raw(server.url, 'GET', path, { token: a.token });
      expect(res, path).toMatchObject({ status: 400, json: { code: 'bad_request' } });
    }
    await expectBankError(bank.getTransfer(a.token, `tr_${'C'.repeat(22)}`), 404, 'transfer_not_found');
  });
});

describe('bank client', () => {
  it('reports an unreachable bank as a network error', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    const client = createBankClient(`http://127.0.0.1:${port}`, { timeoutMs: 2_000 });
    const e = await client.info().catch((err) => err);
    expect(e).toBeInstanceOf(NetPayError);
    expect(e).toMatchObject({ code: 'bank_unreachable', status: 503, details: { reason: 'network' } });
  });
});
