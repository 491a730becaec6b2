/**
 * A `fetch` for Node servers that call other NetPay servers (createClient's `transport.fetch`): the
 * requests createClient makes (a string body, plain headers, a time limit) go over node:http(s) through
 * one kept-alive agent per process; anything else goes to the global fetch. On loopback a call costs
 * about half of the global fetch's time and CPU (a vendor's claim, hand-over and backups: issue 15).
 * Idle connections are closed before the server's keep-alive hint runs out (Node's agent reads it), so a
 * request is never sent on a connection the server is closing. Node only: `@netpay/api/node`.
 */
import http from 'node:http';
import https from 'node:https';

/** Largest answer read (bytes): a bigger one fails the call like a broken connection. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
/** Connections kept per server: calls beyond wait for one. */
const MAX_SOCKETS = 256;

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
} as const;

/** Statuses whose answers have no body (a Response with a body for them cannot be made). */
const NO_BODY = new Set([204, 205, 304]);

/** The global fetch's signature, over node:http(s) with kept-alive connections for what createClient sends. */
export function keptAliveFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const body = init.body ?? undefined;
  const url = typeof input === 'string' ? new URL(input) : input instanceof URL ? input : undefined;
  const agent =
    url && (url.protocol === 'http:' || url.protocol === 'https:') ? agents[url.protocol] : undefined;
  if (!url || !agent || (body !== undefined && typeof body !== 'string')) return fetch(input, init);
  return send(url, agent, init, body);
}

function send(url: URL, agent: http.Agent, init: RequestInit, body: string | undefined): Promise<Response> {
  const signal = init.signal ?? undefined;
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const headers: Record<string, string> = Object.fromEntries(new Headers(init.headers));
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.request(url, { method: init.method ?? 'GET', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`the answer is over ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('error', fail);
      res.on('end', () => {
        done();
        const status = res.statusCode ?? 502;
        resolve(
          new Response(NO_BODY.has(status) ? null : Buffer.concat(chunks), {
            status,
            statusText: res.statusMessage ?? '',
            headers: answerHeaders(res.headers),
          }),
        );
      });
    });
    // An abort (the time limit) ends the call with the signal's reason, as the global fetch does.
    const onAbort = () => req.destroy(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    function fail(e: unknown) {
      done();
      reject(e);
    }
    req.on('error', fail);
    req.end(body);
  });
}

/** Node's answer headers as a Headers (repeated ones appended). */
function answerHeaders(h: http.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h)) {
    if (Array.isArray(v)) for (const one of v) out.append(k, one);
    else if (v !== undefined) out.set(k, v);
  }
  return out;
}
