/**
 * What a peer serves as an S-peer (docs/p2p.md §3, the contract `peerApi` in @netpay/api): its shared
 * files, each file's manifest (free), and each chunk at the file's price per chunk with the NetPay gate in
 * front (added by the caller with `netpayFastify`): an unpaid chunk request gets 402 with terms, a paid one
 * the chunk and a receipt. An unknown file or chunk costs nothing: its price is 0 and the handler answers
 * 404 / 416.
 */
import { CHUNK_ROUTE, PeerChunkParams, peerApi } from '@netpay/api';
import { chunkCount } from '@netpay/protocol';
import { serve, serviceError } from '@netpay/service';
import type { FastifyInstance } from 'fastify';
import { filesError } from '../files/errors.ts';
import type { SharedFolder } from '../files/shared-folder.ts';

export function peerRoutes(app: FastifyInstance, folder: SharedFolder): void {
  serve(app, peerApi.files, async () => ({
    files: folder.list().map((f) => ({
      fileId: f.manifest.fileId,
      name: f.manifest.name,
      size: f.manifest.size,
      chunkSize: f.manifest.chunkSize,
      price: f.price.toString(),
    })),
  }));

  serve(app, peerApi.manifest, async (req) => {
    const file = folder.get(req.params.fileId);
    if (!file) throw filesError('file_not_found', `no shared file ${req.params.fileId} here`);
    return file.manifest;
  });

  app.get(
    CHUNK_ROUTE,
    { config: { netpay: (req) => chunkPrice(folder, req.params) } },
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

/** A chunk's price: the file's per chunk; nothing for a request the handler will refuse. */
function chunkPrice(folder: SharedFolder, params: unknown) {
  const p = PeerChunkParams.safeParse(params);
  const file = p.success ? folder.get(p.data.fileId) : undefined;
  if (!p.success || !file || p.data.k >= chunkCount(file.manifest.size, file.manifest.chunkSize))
    return { amount: 0n };
  return { amount: file.price, description: `${file.manifest.name} chunk ${p.data.k}` };
}
