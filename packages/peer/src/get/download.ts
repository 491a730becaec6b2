/**
 * Downloading a file as an R-peer (docs/p2p.md §3, §5): the manifest from any peer that has the file,
 * checked against the file id; then every chunk, paid one at a time from the peer's wallet and checked
 * against its leaf before that seller is paid for another. Sellers work in parallel, one chunk in flight
 * each. A seller that sends a bad chunk, refuses, or goes away is dropped and its chunk goes back in the
 * queue for the others; so a download costs at most one chunk per bad seller beyond the chunks it got.
 *
 * Chunks are written in place into `<out>.part`; which ones are done is kept in `<out>.part.json`, so a
 * download that stopped resumes where it was (from any peer) and pays only for what it still needs.
 */
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { chunkPath, createClient, peerApi, TAB_HEADER, TAB_ROUTE } from '@netpay/api';
import {
  CHUNK_SIZE,
  type CheckedManifest,
  checkManifest,
  chunkCount,
  chunkLength,
  chunkMatches,
  encodeHeader,
  HEADERS,
  NetPayError,
} from '@netpay/protocol';
import type { PeerWallet } from '../wallet/peer-wallet.ts';

/** A peer offering the file (from the CIS's search, docs/p2p.md §2). */
export interface Seller {
  readonly peerId: string;
  readonly url: string;
  /** Price per chunk, minor units. */
  readonly price: bigint;
}

export interface Progress {
  readonly bytes: number;
  readonly total: number;
  readonly chunks: number;
  readonly totalChunks: number;
  /** Paid so far in this run, minor units. */
  readonly spent: bigint;
  /** Sellers still in use. */
  readonly sellers: number;
}

export interface DownloadOptions {
  readonly fileId: string;
  /** The file's size as the CIS lists it: a seller's manifest longer than that size needs is not read. */
  readonly size?: number;
  readonly sellers: readonly Seller[];
  /** Where the file goes (written as `<out>.part` until complete). */
  readonly out: string;
  /** Pays; told of each payment a seller took (`accepted`), so the next to it may be a plain part. */
  readonly wallet: Pick<PeerWallet, 'pay'> & Partial<Pick<PeerWallet, 'accepted'>>;
  /** Most to pay per chunk; sellers asking more are not used. */
  readonly maxPrice?: bigint;
  readonly onProgress?: (p: Progress) => void;
  /** Why a seller was dropped (bad chunk, refusal, gone). */
  readonly onDrop?: (peerId: string, why: string) => void;
  /** Per-request time limit. Default 30 s. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

export interface DownloadResult {
  readonly path: string;
  readonly size: number;
  /** Paid in this run, minor units (bad chunks included). */
  readonly spent: bigint;
  /** Chunks fetched in this run from each seller (good ones). */
  readonly from: Record<string, number>;
  /** Sellers dropped, with why. */
  readonly dropped: Record<string, string>;
}

/** Fetches, checks and pays for every missing chunk of a file; throws `download_incomplete` when no seller is left. */
export async function download(o: DownloadOptions): Promise<DownloadResult> {
  const fetchFn = o.fetch ?? fetch;
  const sellers = o.sellers.filter((s) => o.maxPrice === undefined || s.price <= o.maxPrice);
  if (sellers.length === 0)
    throw new NetPayError(
      'no_seller',
      `no peer offers ${o.fileId}${o.maxPrice === undefined ? '' : ` at ${o.maxPrice} or less per chunk`}`,
      { status: 404 },
    );
  const dropped: Record<string, string> = {};
  const drop = (s: Seller, why: string) => {
    dropped[s.peerId] = why;
    o.onDrop?.(s.peerId, why);
  };
  const checked = await manifestFrom(o, sellers, fetchFn, drop);
  const { manifest } = checked;
  const total = chunkCount(manifest.size, manifest.chunkSize);
  const state = await openPart(o.out, checked);
  const queue = Array.from({ length: total }, (_, k) => k).filter((k) => !state.done.has(k));
  let spent = 0n;
  let bytes = [...state.done].reduce((n, k) => n + chunkLength(manifest.size, manifest.chunkSize, k), 0);
  const from: Record<string, number> = {};
  let live = sellers.filter((s) => !(s.peerId in dropped));
  const report = () =>
    o.onProgress?.({
      bytes,
      total: manifest.size,
      chunks: state.done.size,
      totalChunks: total,
      spent,
      sellers: live.length,
    });
  report();

  /**
   * One seller's loop. Each round asks for one chunk paid (with what the tab owes) and, where the seller
   * serves ahead of payment (or asks nothing), up to MAX_AHEAD more on the tab at the same time, so the
   * seller's time to take a payment is hidden behind the other chunks; each chunk is checked before the
   * round after pays for it. On any failure the round's chunks go back in the queue and the seller stops; a seller
   * left at the end gets its tab paid off.
   */
  async function work(s: Seller) {
    // Chunks asked on the tab beside each paid one: the last round's stay on the tab until this round's
    // paid chunk pays them, so a round may add at most half the seller's threshold.
    const ahead =
      s.price === 0n ? FREE_AHEAD : Math.min(MAX_AHEAD, Math.floor((await debtChunksOf(o, s, fetchFn)) / 2));
    // Each chunk in flight is read into a buffer of its own, reused round after round: a new 256 KiB buffer
    // per chunk, kept across the write, outlived V8's young generation and kept the old one collecting
    // (a long download's CPU tripled some 5 s in).
    const slots = Array.from({ length: 1 + ahead }, () => Buffer.allocUnsafe(manifest.chunkSize));
    let tab: string | undefined; // a chain the seller holds for this payer, after a paid chunk
    let owed = 0n; // what it served on the tab, checked, not paid yet
    for (let k1 = queue.shift(); k1 !== undefined; k1 = queue.shift()) {
      const more: number[] = [];
      while ((s.price === 0n || tab) && more.length < ahead && queue.length > 0) more.push(queue.shift()!);
      const amount = s.price + owed;
      const onTab = { amount: 0n, ...(tab ? { tab } : {}) };
      const [paid, ...rest] = await Promise.all([
        fetchChunk(o, s, k1, fetchFn, { amount, ...(tab ? { tab } : {}) }, slots[0]!),
        ...more.map((k, i) => fetchChunk(o, s, k, fetchFn, onTab, slots[i + 1]!)),
      ]);
      if (paid!.paid) spent += amount;
      if (paid!.chain) {
        tab = paid!.chain;
        owed = 0n;
      }
      let failed = await keep(s, k1, paid!);
      for (const [i, got] of rest.entries()) {
        const why = await keep(s, more[i]!, got);
        if (!('error' in got)) owed += s.price;
        failed ??= why;
      }
      if (failed) {
        for (const k of [...more].reverse().concat(k1)) if (!state.done.has(k)) queue.unshift(k);
        drop(s, failed);
        live = live.filter((x) => x !== s);
        report();
        return;
      }
    }
    if (tab && owed > 0n && (await payTab(o, s, tab, owed, fetchFn))) {
      spent += owed;
      report();
    }
  }

  /** A fetched chunk checked and written: undefined, or why the seller is dropped. */
  async function keep(s: Seller, k: number, got: Fetched): Promise<string | undefined> {
    if ('error' in got) return got.error;
    if (!chunkMatches(got.bytes, checked.leaves[k]!)) return `chunk ${k} does not match the file's hash`;
    await state.write(k, got.bytes);
    bytes += got.bytes.length;
    from[s.peerId] = (from[s.peerId] ?? 0) + 1;
    report();
    return undefined;
  }
  // A seller that finds the queue empty stops; one dropped puts its chunk back while others may still run,
  // so the pass repeats until the queue is empty or nobody is left.
  while (queue.length > 0 && live.length > 0) await Promise.all(live.map(work));
  await state.close();
  if (queue.length > 0)
    throw new NetPayError(
      'download_incomplete',
      `${queue.length} of ${total} chunks are missing and no seller is left (${Object.entries(dropped)
        .map(([p, w]) => `${p}: ${w}`)
        .join('; ')}); run it again to resume`,
      { status: 502 },
    );
  await rename(`${o.out}.part`, o.out);
  await rm(`${o.out}.part.json`, { force: true });
  return { path: o.out, size: manifest.size, spent, from, dropped };
}

/** The manifest from the first seller whose answer checks out against the file id. */
async function manifestFrom(
  o: DownloadOptions,
  sellers: readonly Seller[],
  fetchFn: typeof fetch,
  drop: (s: Seller, why: string) => void,
): Promise<CheckedManifest> {
  for (const s of sellers) {
    const client = createClient(peerApi, {
      url: s.url,
      name: `peer ${s.peerId}`,
      timeoutMs: o.timeoutMs ?? 30_000,
      fetch: fetchFn,
      // Each leaf is 43 characters and 3 of JSON (64 leaves room for spacing); the rest fits in 8 KiB.
      ...(o.size === undefined ? {} : { maxAnswerBytes: chunkCount(o.size, CHUNK_SIZE) * 64 + 8192 }),
    });
    try {
      const m = checkManifest(await client.manifest({ params: { fileId: o.fileId } }));
      if (m.ok && m.value.manifest.fileId === o.fileId) return m.value;
      drop(s, m.ok ? 'sent the manifest of another file' : m.error.message);
    } catch (e) {
      drop(s, e instanceof Error ? e.message : String(e));
    }
  }
  throw new NetPayError('download_incomplete', `no seller sent a manifest that matches ${o.fileId}`, {
    status: 502,
  });
}

/** Chunks asked beside each paid one at most, however far the seller serves ahead. */
const MAX_AHEAD = 2;
/** Chunks asked beside each one from a seller that asks nothing: as many as from a paid one at most. */
const FREE_AHEAD = MAX_AHEAD;

type Fetched = ({ bytes: Uint8Array } | { error: string }) & {
  /** Whether coins left (they may have been taken). */
  paid: boolean;
  /** The chain the seller took the payment on (a tab runs there next). */
  chain?: string;
};

/** How many chunks a seller serves ahead of payment (its `GET /p2p/files`); 0 when it does not say. */
async function debtChunksOf(o: DownloadOptions, s: Seller, fetchFn: typeof fetch): Promise<number> {
  const client = createClient(peerApi, {
    url: s.url,
    name: `peer ${s.peerId}`,
    timeoutMs: o.timeoutMs ?? 30_000,
    fetch: fetchFn,
  });
  return client
    .files({})
    .then((f) => f.debtChunks)
    .catch(() => 0);
}

/**
 * Chunk k from a seller: paid with `amount` (its price and what the tab owes; 0: nothing is paid, the chunk
 * is free or asked on the tab named by `tab`). The bytes, or why not; `paid` says whether coins left.
 */
async function fetchChunk(
  o: DownloadOptions,
  s: Seller,
  k: number,
  fetchFn: typeof fetch,
  ask: { amount: bigint; tab?: string },
  into: Buffer,
): Promise<Fetched> {
  const payment = ask.amount > 0n ? await o.wallet.pay(s.peerId, ask.amount) : undefined;
  const headers: Record<string, string> = {};
  if (payment) headers[HEADERS.payment] = encodeHeader(payment);
  if (ask.tab && s.price > 0n) headers[TAB_HEADER] = ask.tab;
  const chain = payment?.parts[0]?.chainId;
  const paid = payment !== undefined;
  try {
    return await exchange(
      fetchFn,
      s.url.replace(/\/+$/, '') + chunkPath(o.fileId, k),
      { headers },
      o,
      async (res) => {
        if (res.status !== 200) {
          const body = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
          // A refusal (402, 4xx) recorded no coin; the coins are not reused, to keep the wallet simple and safe.
          return {
            error: `answered ${res.status} ${body.code ?? ''}: ${body.message ?? ''}`.trim(),
            paid: false,
          };
        }
        if (payment) o.wallet.accepted?.(s.peerId, payment);
        try {
          return { bytes: await readInto(res, into), paid, ...(chain ? { chain } : {}) };
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          return { error: `the chunk did not arrive whole: ${why}`, paid, ...(chain ? { chain } : {}) };
        }
      },
    );
  } catch (e) {
    // Refused before anything was sent: the seller never saw the coins. Otherwise they may have arrived.
    const refused = (e as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
    return { error: `unreachable: ${e instanceof Error ? e.message : String(e)}`, paid: paid && !refused };
  }
}

/** An answer's body read into `into` (a chunk at most): the part of it filled. */
async function readInto(res: Response, into: Buffer): Promise<Uint8Array> {
  if (!res.body) return into.subarray(0, 0);
  const reader = res.body.getReader();
  let n = 0;
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    if (n + r.value.length > into.length) {
      await reader.cancel();
      throw new Error(`more than a chunk (${into.length} bytes) came`);
    }
    into.set(r.value, n);
    n += r.value.length;
  }
  return into.subarray(0, n);
}

/**
 * One request and the reading of its answer within the time limit (the body included), whose timer is
 * cleared the moment it is done rather than left running for the whole limit per chunk.
 */
async function exchange<T>(
  fetchFn: typeof fetch,
  url: string,
  init: RequestInit,
  o: Pick<DownloadOptions, 'timeoutMs'>,
  read: (res: Response) => Promise<T>,
): Promise<T> {
  const ms = o.timeoutMs ?? 30_000;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no answer within ${ms} ms`)), ms);
  try {
    return await read(await fetchFn(url, { ...init, signal: abort.signal }));
  } finally {
    clearTimeout(timer);
  }
}

/** Pays off what a seller served on the tab (`POST /p2p/tab`); true once it took the payment. */
async function payTab(o: DownloadOptions, s: Seller, tab: string, owed: bigint, fetchFn: typeof fetch) {
  const payment = await o.wallet.pay(s.peerId, owed);
  const init = { method: 'POST', headers: { [HEADERS.payment]: encodeHeader(payment), [TAB_HEADER]: tab } };
  try {
    const took = await exchange(fetchFn, s.url.replace(/\/+$/, '') + TAB_ROUTE, init, o, async (res) => {
      await res.arrayBuffer().catch(() => undefined);
      return res.status === 200;
    });
    if (took) o.wallet.accepted?.(s.peerId, payment);
    return took;
  } catch {
    return false;
  }
}

/**
 * The partial file and the record of its chunks done, made or resumed. A resumed chunk counts as done only
 * if its bytes in the file still match its leaf (the record is written after the chunk, but neither is
 * fsynced per chunk, and the files may have been touched since): the others are fetched again.
 */
async function openPart(out: string, checked: CheckedManifest) {
  const { fileId, size, chunkSize } = checked.manifest;
  const record = `${out}.part.json`;
  let listed: number[] = [];
  try {
    const saved = JSON.parse(await readFile(record, 'utf8')) as { fileId?: unknown; done?: unknown };
    if (saved.fileId === fileId && Array.isArray(saved.done))
      listed = saved.done.filter(
        (k): k is number => Number.isInteger(k) && k >= 0 && k < checked.leaves.length,
      );
  } catch {
    // nothing to resume
  }
  let f = listed.length > 0 ? await open(`${out}.part`, 'r+').catch(() => undefined) : undefined;
  if (!f) f = await open(`${out}.part`, 'w'); // the record without its file: start again
  await f.truncate(size);
  const file = f;
  const done = new Set<number>();
  const buffer = Buffer.allocUnsafe(chunkSize);
  for (const k of listed) {
    const length = chunkLength(size, chunkSize, k);
    const { bytesRead } = await file.read(buffer, 0, length, k * chunkSize);
    if (bytesRead === length && chunkMatches(buffer.subarray(0, length), checked.leaves[k]!)) done.add(k);
  }
  let saving: Promise<void> = Promise.resolve();
  return {
    done,
    async write(k: number, bytes: Uint8Array) {
      await file.write(bytes, 0, bytes.length, k * chunkSize);
      done.add(k);
      // The chunk is written before it is recorded as done; the record is rewritten in order.
      const text = JSON.stringify({ fileId, done: [...done] });
      saving = saving.then(() => writeFile(record, text));
      await saving;
    },
    async close() {
      await saving;
      await file.sync();
      await file.close();
    },
  };
}
