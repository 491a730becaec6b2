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
import { CHUNK_ROUTE, PeerChunkParams, peerApi, TAB_HEADER } from '@netpay/api';
import { chunkCount, decodeHeader, HEADERS } from '@netpay/protocol';
import { serve, serviceError } from '@netpay/service';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { filesError } from '../files/errors.ts';
import type { SharedFolder } from '../files/shared-folder.ts';
import type { Tabs } from './tabs.ts';

export interface PeerRouteOptions {
  readonly tabs: Tabs;
  /** Whether this peer holds the chain from a payer (P2P), so its tab may run. */
  readonly holds: (chainId: string) => boolean;
}

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
        if (o.holds(chain) && o.tabs.take(chain)) {
          (req as TabRequest).netpayOnTab = chain;
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
        settleTab(o.tabs, folder, req as TabRequest, reply.statusCode, reply.getHeader(HEADERS.receipt)),
      config: { netpay: (req) => chunkPrice(folder, o.tabs, req as TabRequest) },
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
}

/**
 * A chunk's price: the file's per chunk, and up to its tab's chunks more when the payment names a tab;
 * nothing for a chunk on the tab, or for a request the handler will refuse.
 */
function chunkPrice(folder: SharedFolder, tabs: Tabs, req: TabRequest) {
  const p = PeerChunkParams.safeParse(req.params);
  const file = p.success ? folder.get(p.data.fileId) : undefined;
  if (
    req.netpayOnTab ||
    !p.success ||
    !file ||
    p.data.k >= chunkCount(file.manifest.size, file.manifest.chunkSize)
  )
    return { amount: 0n };
  const tab = one(req.headers[TAB_HEADER.toLowerCase()]);
  const owed = tab ? BigInt(tabs.owed(tab)) : 0n;
  return {
    amount: file.price,
    ...(owed > 0n ? { upTo: file.price * (1n + owed) } : {}),
    description: `${file.manifest.name} chunk ${p.data.k}`,
  };
}

/** After the response: a tab chunk that was not served comes off the tab; a paid one pays the tab down. */
function settleTab(
  tabs: Tabs,
  folder: SharedFolder,
  req: TabRequest,
  status: number,
  receiptHeader: unknown,
) {
  if (req.netpayOnTab) {
    if (status !== 200) tabs.settle(req.netpayOnTab, 1);
    return;
  }
  const tab = one(req.headers[TAB_HEADER.toLowerCase()]);
  if (!tab || status !== 200 || typeof receiptHeader !== 'string') return;
  const receipt = decodeHeader('receipt', receiptHeader);
  const p = PeerChunkParams.safeParse(req.params);
  const file = p.success ? folder.get(p.data.fileId) : undefined;
  if (!receipt.ok || !file || file.price === 0n) return;
  const extra = BigInt(receipt.value.amount) / file.price - 1n;
  if (extra > 0n) tabs.settle(tab, Number(extra));
}
