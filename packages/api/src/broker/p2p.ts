/**
 * The CIS's routes (docs/p2p.md §2): the broker as P2P-NetPay's central index server. Peers publish the
 * files they share, anyone searches them, and a peer reads its fairness figures and buys chains for its
 * wallet. Requests, answers and routes in one place, as the peers' part of the broker's contract.
 */
import {
  CHUNK_SIZE,
  ChainIdSchema,
  ChainLengthSchema,
  FileIdSchema,
  FileNameSchema,
  FileSizeSchema,
  MinorWireSchema,
  PaywordSchema,
  TouchstoneSchema,
} from '@netpay/protocol';
import { z } from 'zod';
import { route } from '../route.ts';

const Amount = MinorWireSchema;

/** Most files one peer may share; a PUT /p2p/files body's largest size. */
export const MAX_SHARED_FILES = 10_000;
export const P2P_FILES_BODY_LIMIT = 4 * 1024 * 1024;

/**
 * One file a peer shares: its id (docs/p2p.md §1), name, size in bytes, chunk size (protocol v1 has one)
 * and its price per chunk. A name may not hold NUL, which no file system allows and PostgreSQL cannot store.
 */
export const SharedFile = z.strictObject({
  fileId: FileIdSchema,
  name: FileNameSchema.refine((s) => !s.includes('\0'), 'must not contain NUL'),
  size: FileSizeSchema,
  chunkSize: z.literal(CHUNK_SIZE),
  price: Amount.describe('per chunk, minor units'),
});

/** PUT /p2p/files: the caller's whole list of shared files, each file id once. */
export const SharedFilesBody = z.strictObject({
  files: z
    .array(SharedFile)
    .max(MAX_SHARED_FILES)
    .refine((f) => new Set(f.map((x) => x.fileId)).size === f.length, 'each fileId may appear once'),
});

/** GET /p2p/search: terms that every offered name contains, and how many offers at most. */
export const SearchQuery = z.strictObject({
  q: z.string().max(256).regex(/\S/, 'give at least one search term'),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const FileParams = z.strictObject({ fileId: FileIdSchema });

/** POST /p2p/chains: chains a peer's wallet made (client-side only), as POST /me/chains takes them. */
export const PeerBuyBody = z.strictObject({
  chains: z
    .array(
      z.strictObject({
        coinValue: Amount,
        n: ChainLengthSchema,
        chainId: ChainIdSchema.describe('the chain id the wallet generated'),
        root: PaywordSchema.describe('W(0) of the wallet’s chain; the seed never leaves it'),
      }),
    )
    .min(1)
    .max(20),
});

/** supply ÷ demand with 2 decimals ("1.25"), null while demand is 0. */
const Ratio = z
  .string()
  .regex(/^\d+\.\d{2}$/)
  .nullable();

export const Offer = z.looseObject({
  fileId: z.string(),
  name: z.string(),
  size: z.number().int(),
  chunkSize: z.number().int(),
  chunks: z.number().int(),
  peers: z.array(z.looseObject({ peerId: z.string(), url: z.string(), price: Amount, ratio: Ratio })),
});
export const SharedFilesAnswer = z.looseObject({ files: z.number().int() });
export const SearchAnswer = z.looseObject({ offers: z.array(Offer) });
export const PeerStatusAnswer = z.looseObject({
  peerId: z.string(),
  balance: Amount,
  earnings: Amount,
  supply: Amount,
  demand: Amount,
  ratio: Ratio,
  allowance: Amount,
  remaining: Amount,
  frozen: z.boolean(),
});
/** GET /p2p/chains/:chainId: the peer that bought a chain, its key, whether it is frozen. */
export const ChainOwnerParams = z.strictObject({ chainId: ChainIdSchema });
export const ChainOwnerAnswer = z.looseObject({
  chainId: z.string(),
  owner: z.string(),
  publicKey: z.string(),
  frozen: z.boolean(),
});
/** GET /p2p/frozen?since=: the peers frozen at or after `since` (Unix ms), oldest first, 1,000 at most. */
export const FrozenQuery = z.strictObject({
  since: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,15})$/, 'Unix milliseconds, a decimal integer')
    .default('0'),
});
export const FrozenAnswer = z.looseObject({
  peers: z.array(z.looseObject({ peerId: z.string(), frozenAt: z.string() })),
  /** More were frozen after the last one listed: ask again with `since` = its `frozenAt` (it comes again). */
  more: z.boolean(),
});
export const PeerBuyAnswer = z.looseObject({
  chains: z.array(z.looseObject({ chainId: z.string(), touchstone: TouchstoneSchema })),
});

export const p2pRoutes = {
  shareFiles: route({
    method: 'PUT',
    path: '/p2p/files',
    summary: "Replace the calling peer's list of shared files",
    auth: 'party',
    key: 'required',
    body: SharedFilesBody,
    bodyLimit: P2P_FILES_BODY_LIMIT,
    responses: { 200: SharedFilesAnswer },
    errors: ['not_a_peer'],
  }),
  searchFiles: route({
    method: 'GET',
    path: '/p2p/search',
    summary: 'Offers whose name contains every term, most peers first',
    auth: 'none',
    query: SearchQuery,
    responses: { 200: SearchAnswer },
  }),
  fileOffer: route({
    method: 'GET',
    path: '/p2p/files/:fileId',
    summary: 'One file and the peers that offer it',
    auth: 'none',
    params: FileParams,
    responses: { 200: Offer },
    errors: ['file_not_found'],
  }),
  chainOwner: route({
    method: 'GET',
    path: '/p2p/chains/:chainId',
    summary:
      'Who bought a P2P chain: the owner peer whose signed index a seller accepts, its key, whether frozen',
    auth: 'none',
    params: ChainOwnerParams,
    responses: { 200: ChainOwnerAnswer },
    errors: ['chain_not_found'],
  }),
  frozenPeers: route({
    method: 'GET',
    path: '/p2p/frozen',
    summary:
      'Peers frozen for spending coins twice, from `since` on: what sellers refuse without asking per chain',
    auth: 'none',
    query: FrozenQuery,
    responses: { 200: FrozenAnswer },
  }),
  peerStatus: route({
    method: 'GET',
    path: '/p2p/me',
    summary: "The calling peer's balance, earnings, supply, demand and allowance",
    auth: 'party',
    responses: { 200: PeerStatusAnswer },
    errors: ['not_a_peer'],
  }),
  peerBuy: route({
    method: 'POST',
    path: '/p2p/chains',
    summary: 'Buy chains for a peer’s wallet, from its balance, then its earnings, within its allowance',
    auth: 'party',
    key: 'required',
    body: PeerBuyBody,
    responses: { 201: PeerBuyAnswer },
    errors: [
      'not_a_peer',
      'peer_frozen',
      'fairness_limit',
      'insufficient_funds',
      'limit_exceeded',
      'bad_denomination',
      'chain_exists',
    ],
  }),
} as const;
