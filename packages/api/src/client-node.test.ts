import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from './client.ts';
import { keptAliveFetch } from './client-node.ts';
import { route } from './route.ts';
import { scriptedServer } from './scripted-server.ts';

/** A contract for a small server on loopback that answers what each test sets, and records the request. */
const api = {
  buy: route({
    method: 'POST',
    path: '/orders/:id',
    summary: 'buy',
    auth: 'party',
    key: 'required',
    params: z.object({ id: z.string() }),
    body: z.object({ amount: z.string() }),
    responses: { 200: z.object({ done: z.literal(true) }) },
  }),
  page: route({ method: 'GET', path: '/page', summary: 'a page', auth: 'none', responses: { 200: 'html' } }),
  remove: route({ method: 'DELETE', path: '/x', summary: 'gone', auth: 'none', responses: { 204: 'empty' } }),
};

let srv: Awaited<ReturnType<typeof scriptedServer>>;
beforeAll(async () => {
  srv = await scriptedServer();
});
afterAll(() => srv.close());

const client = (timeoutMs = 2_000) =>
  createClient(api, {
    url: srv.url,
    name: 'the shop',
    fetch: keptAliveFetch,
    timeoutMs,
    sign: () => ({ 'netpay-signed': 'yes' }),
  });

describe('keptAliveFetch', () => {
  it('sends what createClient sends and parses the answers, over one kept-alive connection', async () => {
    srv.next = { status: 200, body: '{"done":true}' };
    const before = srv.connections;
    for (let i = 0; i < 5; i++) {
      expect(await client().buy({ params: { id: 'a b' }, body: { amount: `${i}` } })).toEqual({ done: true });
      expect(srv.seen).toMatchObject({ method: 'POST', url: '/orders/a%20b', body: `{"amount":"${i}"}` });
      expect(srv.seen.headers).toMatchObject({ 'netpay-signed': 'yes', 'content-type': 'application/json' });
      expect(srv.seen.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(srv.connections - before).toBe(1);
    srv.next = { status: 200, body: '<p>hi</p>', type: 'text/html' };
    expect(await client().page({})).toBe('<p>hi</p>');
    srv.next = { status: 204, body: '' };
    expect(await client().remove({})).toBeUndefined();
  });

  it('turns error answers, an unreachable server and one too slow into the errors the global fetch gives', async () => {
    srv.next = { status: 409, body: '{"code":"lease_active","message":"wait","details":{"retryAfter":4}}' };
    expect(
      await client()
        .page({})
        .catch((e: unknown) => e),
    ).toMatchObject({
      code: 'lease_active',
      status: 409,
      details: { retryAfter: 4 },
    });
    srv.next = { status: 200, body: '{"done":true}', waitMs: 300 };
    expect(
      await client(50)
        .buy({ params: { id: 'x' }, body: { amount: '1' } })
        .catch((e: unknown) => e),
    ).toMatchObject({ code: 'unreachable', status: 503, details: { reason: 'timeout' } });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const gone = createClient(api, { url: `http://127.0.0.1:${port}`, fetch: keptAliveFetch });
    expect(await gone.page({}).catch((e: unknown) => e)).toMatchObject({
      code: 'unreachable',
      status: 503,
      details: { reason: 'network' },
    });
  });
});
