import {
  FileIdSchema,
  FileNameSchema,
  FileSizeSchema,
  ManifestSchema,
  MinorWireSchema,
} from '@netpay/protocol';
import { z } from 'zod';
import { route } from './route.ts';

/**
 * A peer's HTTP surface as an S-peer (docs/p2p.md §3): its shared files and their manifests (free), and
 * each chunk, paid like any NetPay resource (`chunkPath`: the body is the chunk's bytes, so it is not a
 * JSON route; an unpaid request gets 402 with terms, `paidRequest` in vendor.ts).
 */

/** One shared file as `GET /p2p/files` lists it; `price` is per chunk, in minor units. */
export const PeerSharedFile = z.strictObject({
  fileId: FileIdSchema,
  name: FileNameSchema,
  size: FileSizeSchema,
  chunkSize: z.number().int(),
  price: MinorWireSchema,
});

export const PeerFileParams = z.strictObject({ fileId: FileIdSchema });

/** Chunk k (0-based) of a file: the params of `chunkPath`. */
export const PeerChunkParams = z.strictObject({
  fileId: FileIdSchema,
  k: z
    .string()
    .regex(/^(0|[1-9]\d{0,9})$/, 'a chunk number: 0, 1, 2, …')
    .transform(Number),
});

/**
 * A chunk request asking to be served on the tab of the chain it names (docs/p2p.md §3, "Debt"): unpaid
 * (no payment header) within the seller's `debtChunks`; with a payment, the payment may cover the tab too.
 */
export const TAB_HEADER = 'NetPay-Tab';

/**
 * Paying a tab off (POST, paid like a chunk): the price is what the tab named in `NetPay-Tab` comes to, so
 * a payer that got chunks ahead pays them at the end of a download; free, answering `{owed: "0"}`, when
 * nothing is owed.
 */
export const TAB_ROUTE = '/p2p/tab';

/** Where chunk k of a file is sold. */
export const chunkPath = (fileId: string, k: number) => `/p2p/files/${fileId}/chunks/${k}`;
export const CHUNK_ROUTE = '/p2p/files/:fileId/chunks/:k';

export const peerApi = {
  files: route({
    method: 'GET',
    path: '/p2p/files',
    summary: "The peer's shared files, with each one's price per chunk",
    auth: 'none',
    responses: {
      200: z.strictObject({
        files: z.array(PeerSharedFile).max(10_000),
        /** Chunks this seller serves a payer ahead of payment (0: every chunk paid first). */
        debtChunks: z.number().int().min(0),
      }),
    },
  }),
  manifest: route({
    method: 'GET',
    path: '/p2p/files/:fileId/manifest',
    summary: "A shared file's manifest: every chunk's leaf hash, checked against the file id",
    auth: 'none',
    params: PeerFileParams,
    responses: { 200: ManifestSchema },
    errors: ['file_not_found'],
  }),
} as const;
