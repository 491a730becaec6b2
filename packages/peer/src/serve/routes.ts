/**
 * What a peer serves as an S-peer (docs/p2p.md §3, the contract `peerApi` in @netpay/api): its shared
 * files, each file's manifest (free), and each chunk at the file's price per chunk with the NetPay gate in
 * front (added by the caller with `netpayFastify`): an unpaid chunk request gets 402 with terms, a paid one
 * the chunk and a receipt. An unknown file or chunk costs nothing: its price is 0 and the handler answers
 * 404 / 416.
 *
 * A payer this peer knows (it holds a chain of the payer's) may be served ahead of payment on that
 * chain's tab (tabs.ts, `NetPay-Tab`), up to `debtChunks`; past that the request is refused with
 * `debt_limit` and the connection closed. A later paid request on the chain may pay the tab as well.
 */
import { CHUNK_ROUTE, PeerChunkParams, peerApi, TAB_HEADER, TAB_ROUTE } from '@netpay/api';
import { chunkCount, decodeHeader, HEADERS } from '@netpay/protocol';
import { serve, serviceError } from '@netpay/service';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { filesError } from '../files/errors.ts';
import type { SharedFolder } from '../files/shared-folder.ts';
import type { Tabs } from './tabs.ts';

export interface PeerRouteOptions {
  readonly tabs: Tabs;
  /** The payer this peer holds the chain from (P2P), whose tab it names; undefined for any other chain. */
  readonly payerOf: (chainId: string) => string | undefined;
}

/** A request served on a tab, with the payer whose tab it is. */
type TabRequest = FastifyRequest & { netpayOnTab?: string };

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

export function peerRoutes(app: FastifyInstance, folder: SharedFolder, o: PeerRouteOptions): void {
  serve(app, peerApi.files, async () => ({
    files: folder.list().map((f) => ({
      fileId: f.manifest.fileId,
      name: f.manifest.name,
      size: f.manifest.size,
      chunkSize: f.manifest.chunkSize,
      price: f.price.toString(),
    })),
    debtChunks: o.tabs.debtChunks,
  }));

  serve(app, peerApi.manifest, async (req) => {
    const file = folder.get(req.params.fileId);
    if (!file) throw filesError('file_not_found', `no shared file ${req.params.fileId} here`);
    return file.manifest;
  });

  app.get(
    CHUNK_ROUTE,
    {
      // Before the gate: a chunk on the tab is served free of the gate, or refused with the connection cut.
      onRequest: async (req, reply) => {
        const chain = one(req.headers[TAB_HEADER.toLowerCase()]);
        if (!chain || req.headers[HEADERS.payment.toLowerCase()] !== undefined) return;
        const price = priceOfChunk(folder, req.params);
        if (price === undefined) return; // no such chunk: the handler answers, nothing goes on the tab
        const payer = o.payerOf(chain);
        if (payer !== undefined && o.tabs.take(payer, price)) {
          (req as TabRequest).netpayOnTab = payer;
          return;
        }
        return reply
          .code(402)
          .header('connection', 'close')
          .send({
            code: 'debt_limit',
            message: `pay for the ${o.tabs.debtChunks} chunks served ahead first`,
          });
      },
      onResponse: async (req, reply) =>
        settleTab(
          o,
          req as TabRequest,
          reply.statusCode,
          reply.getHeader(HEADERS.receipt),
          priceOfChunk(folder, req.params) ?? 0n,
        ),
      config: { netpay: (req) => chunkPrice(folder, o, req as TabRequest) },
    },
    async (req, reply) => {
      const p = PeerChunkParams.safeParse(req.params);
      if (!p.success) throw serviceError('bad_request', p.error.issues[0]?.message ?? 'bad chunk request');
      const { fileId, k } = p.data;
      const file = folder.get(fileId);
      if (!file) throw filesError('file_not_found', `no shared file ${fileId} here`);
      const count = chunkCount(file.manifest.size, file.manifest.chunkSize);
      if (k >= count) throw filesError('chunk_out_of_range', `file ${fileId} has chunks 0 … ${count - 1}`);
      const bytes = await folder.readChunk(fileId, k);
      return reply.type('application/octet-stream').send(bytes);
    },
  );

  // Paying what the tab named in NetPay-Tab comes to (the end of a download): free when nothing is owed.
  app.post(
    TAB_ROUTE,
    {
      onResponse: async (req, reply) =>
        settleTab(o, req as TabRequest, reply.statusCode, reply.getHeader(HEADERS.receipt), 0n),
      config: {
        netpay: (req) => {
          return { amount: owedOn(o, req) };
        },
      },
    },
    async (req) => ({ owed: owedOn(o, req).toString() }),
  );
}

/** The price of an existing chunk, or undefined for a request the handler will refuse. */
function priceOfChunk(folder: SharedFolder, params: unknown): bigint | undefined {
  const p = PeerChunkParams.safeParse(params);
  const file = p.success ? folder.get(p.data.fileId) : undefined;
  if (!p.success || !file || p.data.k >= chunkCount(file.manifest.size, file.manifest.chunkSize))
    return undefined;
  return file.price;
}

/**
 * A chunk's price: the file's per chunk, and up to its tab more when the request names a tab; nothing for
 * a chunk on the tab, or for a request the handler will refuse.
 */
function chunkPrice(folder: SharedFolder, o: PeerRouteOptions, req: TabRequest) {
  const price = req.netpayOnTab ? undefined : priceOfChunk(folder, req.params);
  if (price === undefined) return { amount: 0n };
  const owed = owedOn(o, req);
  return { amount: price, ...(owed > 0n ? { upTo: price + owed } : {}) };
}

/** The payer whose tab the request names (by one of the payer's chains held here), if any. */
const tabPayer = (o: PeerRouteOptions, req: FastifyRequest) => {
  const chain = one(req.headers[TAB_HEADER.toLowerCase()]);
  return chain ? o.payerOf(chain) : undefined;
};

/** What the tab the request names comes to. */
const owedOn = (o: PeerRouteOptions, req: FastifyRequest) => {
  const payer = tabPayer(o, req);
  return payer ? o.tabs.owed(payer) : 0n;
};

/**
 * After the response: a chunk put on the tab but not served comes off it; a paid request naming a tab pays
 * it down by what it paid beyond its own price (`own`).
 */
function settleTab(
  o: PeerRouteOptions,
  req: TabRequest,
  status: number,
  receiptHeader: unknown,
  own: bigint,
) {
  if (req.netpayOnTab) {
    if (status !== 200) o.tabs.untake(req.netpayOnTab);
    return;
  }
  const payer = tabPayer(o, req);
  if (!payer || status !== 200 || typeof receiptHeader !== 'string') return;
  const receipt = decodeHeader('receipt', receiptHeader);
  if (receipt.ok) o.tabs.settle(payer, BigInt(receipt.value.amount) - own);
}
