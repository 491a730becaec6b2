import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from './client.ts';
import { keptAliveFetch } from './client-node.ts';
import { route } from './route.ts';

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

let server: Server;
let url: string;
let next: { status: number; body: string; type?: string; waitMs?: number } = { status: 200, body: '{}' };
let seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string };
/** The connections the server accepted. */
let connections = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen = { method: req.method, url: req.url, headers: req.headers, body };
      const answer = () => {
        res.writeHead(next.status, { 'content-type': next.type ?? 'application/json' });
        res.end(next.body);
      };
      if (next.waitMs) setTimeout(answer, next.waitMs);
      else answer();
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const client = (timeoutMs = 2_000) =>
  createClient(api, {
    url,
    name: 'the shop',
    fetch: keptAliveFetch,
    timeoutMs,
    sign: () => ({ 'netpay-signed': 'yes' }),
  });

describe('keptAliveFetch', () => {
  it('sends what createClient sends and parses the answers, over one kept-alive connection', async () => {
    next = { status: 200, body: '{"done":true}' };
    const before = connections;
    for (let i = 0; i < 5; i++) {
      expect(await client().buy({ params: { id: 'a b' }, body: { amount: `${i}` } })).toEqual({ done: true });
      expect(seen).toMatchObject({ method: 'POST', url: '/orders/a%20b', body: `{"amount":"${i}"}` });
      expect(seen.headers).toMatchObject({ 'netpay-signed': 'yes', 'content-type': 'application/json' });
      expect(seen.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(connections - before).toBe(1);
    next = { status: 200, body: '<p>hi</p>', type: 'text/html' };
    expect(await client().page({})).toBe('<p>hi</p>');
    next = { status: 204, body: '' };
    expect(await client().remove({})).toBeUndefined();
  });

  it('turns error answers, an unreachable server and one too slow into the errors the global fetch gives', async () => {
    next = { status: 409, body: '{"code":"lease_active","message":"wait","details":{"retryAfter":4}}' };
    expect(
      await client()
        .page({})
        .catch((e: unknown) => e),
    ).toMatchObject({
      code: 'lease_active',
      status: 409,
      details: { retryAfter: 4 },
    });
    next = { status: 200, body: '{"done":true}', waitMs: 300 };
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
