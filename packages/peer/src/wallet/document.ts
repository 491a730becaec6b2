/**
 * The peer wallet's one document on disk: its chains (seeds included: the file is private to the peer),
 * validated like any input when read, written atomically (a temporary file, fsync, rename, fsync of the
 * folder) so a crash or a power loss leaves the old document or the new one, never half of one, and a
 * write that returned is never undone.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  ChainIdSchema,
  MinorWireSchema,
  NetPayError,
  PaywordSchema,
  SerializedTraversalSchema,
  TouchstoneSchema,
} from '@netpay/protocol';
import { z } from 'zod';

const Base64url = z.string().regex(/^[A-Za-z0-9_-]*$/);

export const PeerChainSchema = z.strictObject({
  chainId: ChainIdSchema,
  coinValue: MinorWireSchema,
  n: z.number().int().min(1),
  seed: Base64url,
  root: PaywordSchema,
  /** `pending`: written down, purchase not confirmed yet (sent again with `buyKey`). */
  status: z.enum(['pending', 'active']),
  buyKey: z.string(),
  touchstone: TouchstoneSchema.nullable(),
  /** Highest index taken from the traversal: every payword up to it counts as spent after a restart. */
  reserved: z.number().int().min(0),
  /** W(reserved). */
  lastPayword: PaywordSchema,
  /** The traversal at `reserved` (null before the first payword is taken). */
  traversal: SerializedTraversalSchema.nullable(),
  /**
   * Written by a clean close only: the exact index the chain was left at (nothing above it left), W(spent),
   * and the paywords reserved above it that never left, W(spent + 1) … W(reserved). The next open takes
   * them up and clears this field on disk before it hands anything out; without it (a crash) every
   * reserved coin counts as spent.
   */
  closed: z
    .strictObject({
      spent: z.number().int().min(0),
      payword: PaywordSchema,
      unsent: z.array(PaywordSchema).max(10_000),
    })
    .nullable()
    .default(null),
  /** The seller this chain last paid. */
  lastSeller: z.string().nullable(),
  /**
   * Every seller this chain was shown to. A chain that moved on to another seller never goes back to one
   * of these: the index it would carry there would show that seller a payword spent elsewhere since, which
   * it could claim from its older index (docs/p2p.md §5).
   */
  sellers: z.array(z.string()).max(10_000).default([]),
});
export type PeerChain = z.infer<typeof PeerChainSchema>;

export const PeerWalletSchema = z.strictObject({
  format: z.literal(1),
  peerId: z.string(),
  chains: z.array(PeerChainSchema),
});
export type PeerWalletDocument = z.infer<typeof PeerWalletSchema>;

export async function loadDocument(path: string): Promise<PeerWalletDocument | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new NetPayError('wallet_storage', `${path} is not a peer wallet: ${(e as Error).message}`);
  }
  const parsed = PeerWalletSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new NetPayError(
      'wallet_storage',
      `${path} is not a peer wallet: ${issue?.path.join('.')} ${issue?.message}`,
    );
  }
  return parsed.data;
}

/** Writes `doc` durably, or throws `wallet_storage` (the document on disk is then the old one or this one). */
export async function saveDocument(path: string, doc: PeerWalletDocument): Promise<void> {
  try {
    await writeDurably(path, JSON.stringify(doc));
  } catch (e) {
    throw new NetPayError('wallet_storage', `cannot write the wallet ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

async function writeDurably(path: string, text: string) {
  const tmp = `${path}.tmp`;
  const f = await open(tmp, 'w', 0o600);
  try {
    await f.writeFile(text);
    await f.datasync();
  } finally {
    await f.close();
  }
  await rename(tmp, path);
  // The rename is an entry in the folder: until the folder is synced a power loss can bring back the old file.
  const folder = await open(dirname(path), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
