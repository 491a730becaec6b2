import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NetPayError } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from './client.ts';
import { route } from './route.ts';
import { scriptedServer } from './scripted-server.ts';

/** A contract for a small server on loopback that answers what each test sets, and records the request. */
const api = {
  item: route({
    method: 'GET',
    path: '/items/:id',
    summary: 'one item',
    auth: 'customer',
    params: z.object({ id: z.string() }),
    query: z.object({ full: z.string().optional() }),
    responses: { 200: z.object({ id: z.string(), price: z.string() }) },
  }),
  buy: route({
    method: 'POST',
    path: '/orders',
    summary: 'buy',
    auth: 'party',
    key: 'required',
    body: z.object({ amount: z.string() }),
    responses: { 201: z.object({ done: z.literal(true) }), 202: z.object({ retryAfter: z.number() }) },
  }),
  page: route({ method: 'GET', path: '/page', summary: 'a page', auth: 'none', responses: { 200: 'html' } }),
  remove: route({
    method: 'DELETE',
    path: '/x',
    summary: 'gone',
    auth: 'admin',
    responses: { 204: 'empty' },
  }),
};

let srv: Awaited<ReturnType<typeof scriptedServer>>;
beforeAll(async () => {
  srv = await scriptedServer();
});
afterAll(() => srv.close());

const client = () =>
  createClient(api, {
    url: `${srv.url}/`,
    name: 'the shop',
    token: () => 'session-1',
    sign: (r) => ({ 'netpay-signed': `${r.method} ${r.path} ${JSON.stringify(r.body)}` }),
  });

describe('createClient', () => {
  it('fills the path and query, sends the bearer token, and parses the answer', async () => {
    srv.next = { status: 200, body: '{"id":"a b","price":"25","extra":1}' };
    const item = await client().item({ params: { id: 'a b' }, query: { full: 'yes' } });
    expect(item).toEqual({ id: 'a b', price: '25' });
    expect(srv.seen).toMatchObject({ method: 'GET', url: '/items/a%20b?full=yes' });
    expect(srv.seen.headers.authorization).toBe('Bearer session-1');
  });

  it('signs a party route over its path and body, and keys it (fresh, or the caller’s)', async () => {
    srv.next = { status: 201, body: '{"done":true}' };
    expect(await client().buy({ body: { amount: '5' } })).toEqual({ done: true });
    expect(srv.seen.headers['netpay-signed']).toBe('POST /orders {"amount":"5"}');
    expect(srv.seen.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(srv.seen.headers.authorization).toBeUndefined();
    await client().buy({ body: { amount: '5' }, key: 'retry-key-1' });
    expect(srv.seen.headers['idempotency-key']).toBe('retry-key-1');
  });

  it('tells apart the success statuses of a route', async () => {
    srv.next = { status: 202, body: '{"retryAfter":3}' };
    expect(await client().answer(api.buy, { body: { amount: '5' } })).toEqual({
      status: 202,
      body: { retryAfter: 3 },
    });
  });

  it('reads HTML pages as text and empty answers as nothing', async () => {
    srv.next = { status: 200, body: '<p>hi</p>', type: 'text/html' };
    expect(await client().page({})).toBe('<p>hi</p>');
    srv.next = { status: 204, body: '' };
    expect(await client().remove({ token: 'admin-1' })).toBeUndefined();
    expect(srv.seen.headers.authorization).toBe('Bearer admin-1');
  });

  it('turns an error answer into a NetPayError with its code, status and details', async () => {
    srv.next = { status: 409, body: '{"code":"lease_active","message":"wait","details":{"retryAfter":4}}' };
    const e = await client()
      .buy({ body: { amount: '5' } })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NetPayError);
    expect(e).toMatchObject({
      code: 'lease_active',
      message: 'wait',
      status: 409,
      details: { retryAfter: 4 },
    });
    srv.next = { status: 500, body: 'oops', type: 'text/plain' };
    expect(
      await client()
        .page({})
        .catch((x: unknown) => x),
    ).toMatchObject({ code: 'bad_answer', status: 500 });
  });

  it('refuses an answer that does not match the contract', async () => {
    srv.next = { status: 200, body: '{"id":"a"}' };
    const e = await client()
      .item({ params: { id: 'a' } })
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'bad_answer', status: 502 });
    expect((e as Error).message).toContain('the shop');
  });

  it('reads no more of an answer than maxAnswerBytes: longer is bad_answer, declared or streamed', async () => {
    const small = createClient(api, { url: srv.url, token: () => 't', maxAnswerBytes: 16 });
    srv.next = { status: 200, body: '{"id":"a","price":"1234567890"}' };
    expect(await small.item({ params: { id: 'a' } }).catch((x: unknown) => x)).toMatchObject({
      code: 'bad_answer',
      status: 502,
    });
    // No content-length: read in pieces, stopped past the limit.
    const streaming = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.write('<p>'.repeat(10));
      setTimeout(() => res.end('</p>'.repeat(10)), 10);
    });
    await new Promise<void>((r) => streaming.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(streaming.address() as AddressInfo).port}`;
    const pages = (max: number) => createClient(api, { url, maxAnswerBytes: max }).page({});
    expect(await pages(40).catch((x: unknown) => x)).toMatchObject({ code: 'bad_answer' });
    expect(await pages(70)).toBe(`${'<p>'.repeat(10)}${'</p>'.repeat(10)}`);
    streaming.close();
  });

  it('reports a server it cannot reach, and one that does not answer in time, as 503', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const gone = createClient(api, { url: `http://127.0.0.1:${port}`, unreachableCode: 'shop_unreachable' });
    expect(await gone.page({}).catch((x: unknown) => x)).toMatchObject({
      code: 'shop_unreachable',
      status: 503,
      details: { reason: 'network' },
    });
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const slow = createClient(api, {
      url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      timeoutMs: 100,
    });
    expect(await slow.page({}).catch((x: unknown) => x)).toMatchObject({
      code: 'unreachable',
      details: { reason: 'timeout' },
    });
    silent.closeAllConnections();
    await new Promise((r) => silent.close(r));
  });
});
