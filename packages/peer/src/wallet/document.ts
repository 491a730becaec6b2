/**
 * The peer wallet's one document on disk: its chains (seeds included: the file is private to the peer),
 * validated like any input when read, written atomically (a temporary file, fsync, rename) so a crash
 * leaves the old document or the new one, never half of one.
 */
import { open, readFile, rename } from 'node:fs/promises';
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
  const parsed = PeerWalletSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new NetPayError(
      'wallet_storage',
      `${path} is not a peer wallet: ${issue?.path.join('.')} ${issue?.message}`,
    );
  }
  return parsed.data;
}

export async function saveDocument(path: string, doc: PeerWalletDocument): Promise<void> {
  const tmp = `${path}.tmp`;
  const f = await open(tmp, 'w', 0o600);
  try {
    await f.writeFile(JSON.stringify(doc));
    await f.datasync();
  } finally {
    await f.close();
  }
  await rename(tmp, path);
}
