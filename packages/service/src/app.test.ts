/**
 * The service app's input checks and probes (input.ts, app.ts): what every NetPay service refuses before
 * any handler runs, with a 4xx and a code of docs/broker.md §15.2.
 */
import { connect } from 'node:net';
import { canonicalJson } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createServiceApp } from './app.ts';
import { MAX_JSON_DEPTH } from './input.ts';

let handled = 0;
let ready = false;
const { app } = createServiceApp({
  title: 'test',
  description: 'test',
  bodyLimit: 1024 * 1024, // as POST /redemptions: 100,000 deep fits
  health: async () => {
    if (!ready) throw new Error('the bank is not reachable yet');
  },
});
app.post('/echo', { schema: { body: z.object({ name: z.string() }).passthrough() } }, async (req) => {
  handled++;
  // What a signed request's body hash does: recursive canonical JSON of the whole body.
  return { hash: canonicalJson(req.body).length };
});
app.post('/any', async (req) => {
  handled++;
  return { type: typeof req.body };
});
app.get('/items/:id', async (req) => {
  handled++;
  return { id: (req.params as { id: string }).id, query: req.query };
});

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const post = (url: string, payload: string, type = 'application/json') =>
  app.inject({ method: 'POST', url, payload, headers: { 'content-type': type } });

beforeAll(() => app.ready());
afterAll(() => app.close());

describe('service app input checks', () => {
  it('refuses a NUL or another control character in any string of a JSON body, keys too', async () => {
    for (const body of [
      { name: 'a\u0000b' },
      { name: 'ok', deep: { list: ['x', 'y\u0001'] } },
      { name: 'ok', 'k\u0000': 1 },
      { name: 'bell\u0007' },
      { name: 'del\u007f' },
      { name: '\ud800 alone' },
    ]) {
      const before = handled;
      const r = await post('/echo', JSON.stringify(body));
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(r.json().code).toBe('invalid_characters');
      expect(handled).toBe(before);
    }
    const at = await post('/echo', JSON.stringify({ name: 'ok', deep: { list: ['x', '\u0000'] } }));
    expect(at.json().message).toContain('deep.list[1]');
  });

  it('takes tab, line feed, carriage return and any other Unicode text', async () => {
    const r = await post('/echo', JSON.stringify({ name: 'a\tb\nc\r ünïcödé 😀 ａ' }));
    expect(r.statusCode).toBe(200);
  });

  it('refuses control characters in the path, the query and non-JSON bodies', async () => {
    const before = handled;
    for (const url of ['/items/a%00b', '/items/a?q=%00', '/items/a?q=x%1Fy', '/items/a?k%00=1']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(400);
      expect(r.json().code, url).toBe('invalid_characters');
    }
    const text = await post('/any', 'a\u0000b', 'text/plain');
    expect(text.statusCode).toBe(400);
    expect(text.json().code).toBe('invalid_characters');
    expect(handled).toBe(before);
    const fine = await app.inject({ method: 'GET', url: '/items/a%20b?q=%C3%A9' });
    expect(fine.json()).toMatchObject({ id: 'a b', query: { q: 'é' } });
  });

  it(`takes JSON ${MAX_JSON_DEPTH} deep and refuses deeper, before any handler (and any hashing)`, async () => {
    const ok = await post('/any', nested(MAX_JSON_DEPTH));
    expect(ok.statusCode).toBe(200);
    const before = handled;
    for (const depth of [MAX_JSON_DEPTH + 1, 100_000]) {
      const r = await post('/echo', `{"name":"x","a":${nested(depth)}}`);
      expect(r.statusCode, `depth ${depth}`).toBe(400);
      expect(r.json().code).toBe('json_too_deep');
    }
    const r = await post('/any', nested(100_000));
    expect(r.json().code).toBe('json_too_deep');
    expect(handled).toBe(before);
  });

  it('refuses a number beyond the double range (JSON reads 1e400 as Infinity), before any handler', async () => {
    const before = handled;
    for (const n of ['1e400', '-1e400']) {
      const r = await post('/echo', `{"name":"x","a":[{"b":${n}}]}`);
      expect([r.statusCode, r.json().code, r.json().message]).toEqual([
        400,
        'bad_json',
        'the body at a[0].b holds a number beyond the double range',
      ]);
    }
    expect(handled).toBe(before);
    expect((await post('/echo', '{"name":"x","a":1e300}')).statusCode).toBe(200);
  });

  it('answers what Fastify refuses before routing in the one error format', async () => {
    const bad = await app.inject({ method: 'GET', url: '/items/%E0%A4%A' });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'bad_request']);
    const long = await app.inject({ method: 'GET', url: `/items/${'x'.repeat(101)}` });
    expect([long.statusCode, long.json().code]).toEqual([414, 'uri_too_long']);
  });

  it('still refuses prototype poisoning and bad JSON as before', async () => {
    const proto = await post('/echo', '{"name":"x","__proto__":{"admin":true}}');
    expect(proto.statusCode).toBe(400);
    const bad = await post('/echo', '{"name":');
    expect(bad.json().code).toBe('bad_json');
  });

  it('answers requests Node refuses (a control character in a header, huge headers) in the one error format', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const send = (raw: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.from(raw, 'latin1')));
        let data = '';
        socket.on('data', (d) => {
          data += d;
        });
        socket.on('error', reject);
        socket.on('close', () => resolve(data));
      });
    const answerOf = (raw: string) => ({
      status: raw.split('\r\n')[0],
      code: JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).code,
    });
    const nul = await send('GET /items/a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\u0000b\r\n\r\n');
    expect(answerOf(nul)).toEqual({ status: 'HTTP/1.1 400 Bad Request', code: 'bad_request' });
    const huge = await send(`GET /items/a HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answerOf(huge)).toEqual({
      status: 'HTTP/1.1 431 Request Header Fields Too Large',
      code: 'headers_too_large',
    });
  });
});

describe('service app probes', () => {
  it('/livez is 200 while /healthz is 503 not_ready until the service is ready', async () => {
    ready = false;
    expect((await app.inject({ method: 'GET', url: '/livez' })).json()).toEqual({ status: 'ok' });
    const notYet = await app.inject({ method: 'GET', url: '/healthz' });
    expect(notYet.statusCode).toBe(503);
    expect(notYet.json()).toMatchObject({ code: 'not_ready', message: expect.stringContaining('bank') });
    ready = true;
    const now = await app.inject({ method: 'GET', url: '/healthz' });
    expect(now.statusCode).toBe(200);
    expect(now.json()).toEqual({ status: 'ok' });
  });
});
