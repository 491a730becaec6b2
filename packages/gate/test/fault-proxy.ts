/**
 * A fault-injecting HTTP proxy for tests (issue 18 §2; after GNU Taler's harness/faultInjection.ts): put in
 * front of a party, it passes each request on to the party and its answer back, except that, by a seeded
 * random source, it
 * - drops the request (the party never sees it) or the response (the party did the work; the client gets
 *   a reset connection, or a gateway's 502 as a load balancer would answer);
 * - delays the request or the response;
 * - duplicates the request (the party gets it twice, at once or one after the other; the client gets one
 *   of the answers);
 * - reorders: holds a request (or a response) back until the next one has overtaken it;
 * - cuts the connection mid-body: the party gets the headers and half the body, then a reset; or the
 *   client gets the response's headers and half its body, then a reset. (A request without a body is
 *   whole once its headers are in: cut, it reaches the party and only the connection breaks.)
 * It lives beside the test worlds (packages/gate/test, not a package's src, so no package ships it):
 * faults.ts puts it between every pair of parties, and `npm run soak` runs that longer.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const FAULT_KINDS = ['drop', 'delay', 'duplicate', 'reorder', 'cut'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** The chance, per request, of each fault (their sum at most 1). */
export type FaultRates = Record<FaultKind, number>;
export type FaultCounts = Record<FaultKind, number>;

export const NO_FAULTS: FaultRates = { drop: 0, delay: 0, duplicate: 0, reorder: 0, cut: 0 };
export const zeroCounts = (): FaultCounts => ({ drop: 0, delay: 0, duplicate: 0, reorder: 0, cut: 0 });

/** A seeded random source in [0, 1) (mulberry32): the same seed, the same faults in the same order. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultProxyOptions {
  /** Names the link in the log ("wallet→broker"). */
  readonly name: string;
  /** The party's base URL, read per request (it may be known only after the proxy starts). */
  readonly target: () => string;
  readonly random: () => number;
  /** Faults injected, counted by kind (shared between the proxies of one world). */
  readonly counts: FaultCounts;
  /** Longest delay. Default 300 ms. */
  readonly maxDelayMs?: number;
  /** Longest a held request or response waits to be overtaken. Default 300 ms. */
  readonly reorderWaitMs?: number;
  /** Each fault injected, for a failing seed's story. */
  readonly log?: (line: string) => void;
}

/**
 * One fault: its kind, whether it hits the response (else the request), and a number in [0, 1) that picks
 * its flavour: how long a delay is; for a dropped response, a reset (< 0.5) or a gateway's 502; for a
 * duplicate, both copies at once (< 0.5) or one after the other.
 */
export interface Fault {
  readonly kind: FaultKind;
  readonly onResponse: boolean;
  readonly r: number;
}

/** An answer read whole from the party. */
interface Upstream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length']);

function passHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reads a request's body whole. */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The request as the party gets it; with `cutAfter`, only that many body bytes and then a reset. */
function forward(
  base: string,
  req: IncomingMessage,
  body: Buffer,
  cutAfter?: number,
): Promise<Upstream | undefined> {
  const url = new URL(req.url ?? '/', base);
  return new Promise((resolve) => {
    const out = request(
      url,
      {
        method: req.method,
        headers: { ...passHeaders(req.headers), 'content-length': String(body.length) },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', () => resolve(undefined));
      },
    );
    out.on('error', () => resolve(undefined));
    if (cutAfter === undefined) {
      out.end(body);
      return;
    }
    out.flushHeaders();
    out.write(body.subarray(0, cutAfter), () => {
      // The party has the headers and part of the body: the connection then breaks.
      setTimeout(() => {
        out.destroy();
        resolve(undefined);
      }, 20);
    });
  });
}

/** Sends the party's answer on (whole, or cut after `cutAfter` body bytes). */
function answer(res: ServerResponse, up: Upstream, cutAfter?: number) {
  res.writeHead(up.status, { ...passHeaders(up.headers), 'content-length': String(up.body.length) });
  if (cutAfter === undefined) {
    res.end(up.body);
    return;
  }
  res.flushHeaders();
  res.write(up.body.subarray(0, cutAfter), () => setTimeout(() => res.socket?.destroy(), 20));
}

/** Holds things back until the next one overtakes them (or a time limit passes). */
function overtaking(waitMs: number) {
  let waiting: (() => void)[] = [];
  return {
    /** Waits until `passed()` is called next, or `waitMs`. */
    hold: () =>
      new Promise<void>((r) => {
        waiting.push(r);
        setTimeout(r, waitMs);
      }),
    /** One went by: everything held so far may go. */
    passed() {
      const now = waiting;
      waiting = [];
      for (const r of now) r();
    },
  };
}

export async function startFaultProxy(o: FaultProxyOptions) {
  let rates: FaultRates = { ...NO_FAULTS };
  const maxDelay = o.maxDelayMs ?? 300;
  const requests = overtaking(o.reorderWaitMs ?? 300);
  const responses = overtaking(o.reorderWaitMs ?? 300);
  const sockets = new Set<Socket>();
  let exchanges = 0;

  /** The fault for this request, if any, by the seeded source; and which side it hits. */
  /** Faults asked for by a test, each for the next request it matches. */
  const forced: { when: (method: string, url: string) => boolean; fault: Fault }[] = [];

  function pick(): Fault | undefined {
    let x = o.random();
    const onResponse = o.random() < 0.5;
    const r = o.random();
    for (const kind of FAULT_KINDS) {
      if (x < rates[kind]) return { kind, onResponse, r };
      x -= rates[kind];
    }
    return undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    exchanges++;
    const body = await readBody(req);
    const forcedAt = forced.findIndex((f) => f.when(req.method ?? 'GET', req.url ?? '/'));
    const fault = forcedAt >= 0 ? forced.splice(forcedAt, 1)[0]!.fault : pick();
    const what = `${o.name} ${req.method} ${req.url}`;
    if (fault) {
      o.counts[fault.kind]++;
      o.log?.(`${fault.kind}${fault.onResponse ? ' response' : ' request'}: ${what}`);
    }
    const base = o.target();
    const kill = () => req.socket.destroy();
    if (fault?.kind === 'drop' && !fault.onResponse) return kill();
    if (fault?.kind === 'cut' && !fault.onResponse) {
      await forward(base, req, body, Math.floor(body.length / 2));
      return kill();
    }
    if (fault?.kind === 'delay' && !fault.onResponse) await sleep(fault.r * maxDelay);
    if (fault?.kind === 'reorder' && !fault.onResponse) await requests.hold();
    let up: Upstream | undefined;
    if (fault?.kind === 'duplicate') {
      // Both copies reach the party: at once, or the second after the first was answered.
      const both =
        fault.r < 0.5
          ? await Promise.all([forward(base, req, body), forward(base, req, body)])
          : [await forward(base, req, body), await forward(base, req, body)];
      up = both[fault.onResponse ? 1 : 0];
    } else {
      up = await forward(base, req, body);
    }
    requests.passed();
    if (!up) return kill();
    if (fault?.kind === 'drop') {
      if (fault.r < 0.5) return kill();
      // A gateway that lost the party's answer says so, as a load balancer does.
      res.writeHead(502, { 'content-type': 'text/plain' });
      return res.end('bad gateway');
    }
    if (fault?.kind === 'cut') return answer(res, up, Math.floor(up.body.length / 2));
    if (fault?.kind === 'delay') await sleep(fault.r * maxDelay);
    if (fault?.kind === 'reorder') await responses.hold();
    answer(res, up);
    responses.passed();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    name: o.name,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Sets the chance of each fault from now on (NO_FAULTS: a plain proxy). */
    setRates(next: FaultRates) {
      rates = { ...next };
    },
    /** Injects `fault` into the next request that `when` matches (whatever the rates). */
    force(fault: Fault, when: (method: string, url: string) => boolean = () => true) {
      forced.push({ when, fault });
    },
    /** Forgets the faults forced and not met yet. */
    unforce() {
      forced.length = 0;
    },
    /** Requests seen so far. */
    exchanges: () => exchanges,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export type FaultProxy = Awaited<ReturnType<typeof startFaultProxy>>;
