import { z } from 'zod';
import backend from '#crypto';
import { bytesEqual, fromBase64url, toBase64url, utf8 } from './bytes.ts';
import { base64urlBytes } from './messages.ts';
import { InvariantError, ok, type Result } from './result.ts';

/**
 * The content hash of a shared file (docs/p2p.md §1). A file is cut into chunks of CHUNK_SIZE bytes (the
 * last may be shorter; an empty file has one empty chunk). Each chunk hashes to a leaf, the leaves to a
 * Merkle root, and the root with the file's size and chunk size to the file id:
 *   leaf    = SHA-256("NetPay/v1/chunk" ‖ 0x00 ‖ chunk)
 *   node    = SHA-256("NetPay/v1/node" ‖ 0x00 ‖ left ‖ right)   (an odd last node is carried up as is)
 *   file id = base64url SHA-256("NetPay/v1/file" ‖ 0x00 ‖ u64be(size) ‖ u32be(chunkSize) ‖ root)
 * Pure: no I/O, the same bytes in Node and browsers.
 */
export const CHUNK_SIZE = 262_144;
export const HASH_BYTES = 32;
/** Largest file size: sizes are JavaScript numbers, exact up to 2^53 − 1. */
export const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER;
/** Longest file name in a manifest (JavaScript characters). */
export const MAX_FILE_NAME = 255;

const LEAF_PREFIX = utf8('NetPay/v1/chunk\0');
const NODE_PREFIX = utf8('NetPay/v1/node\0');
const FILE_PREFIX = utf8('NetPay/v1/file\0');

/** The hash of one chunk. */
export function leafHash(chunk: Uint8Array): Uint8Array {
  const input = new Uint8Array(LEAF_PREFIX.length + chunk.length);
  input.set(LEAF_PREFIX, 0);
  input.set(chunk, LEAF_PREFIX.length);
  return backend.sha256(input);
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(NODE_PREFIX.length + 2 * HASH_BYTES);
  input.set(NODE_PREFIX, 0);
  input.set(left, NODE_PREFIX.length);
  input.set(right, NODE_PREFIX.length + HASH_BYTES);
  return backend.sha256(input);
}

/** The root of the tree over `leaves`: pairs level by level, left to right; an odd last node goes up as is. */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) throw new InvariantError('a file has at least one leaf');
  for (const leaf of leaves) {
    if (leaf.length !== HASH_BYTES) throw new InvariantError('a leaf is 32 bytes');
  }
  let level = leaves;
  while (level.length > 1) {
    const up: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) up.push(nodeHash(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) up.push(level[level.length - 1]!);
    level = up;
  }
  return Uint8Array.from(level[0]!);
}

function assertSizes(size: number, chunkSize: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new InvariantError(`a file size is an integer in 0..2^53−1, got ${size}`);
  }
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 0xffff_ffff) {
    throw new InvariantError(`a chunk size is an integer in 1..2^32−1, got ${chunkSize}`);
  }
}

/** How many chunks a file of `size` bytes has: ⌈size ÷ chunkSize⌉, and 1 for an empty file. */
export function chunkCount(size: number, chunkSize: number): number {
  assertSizes(size, chunkSize);
  // Exact in doubles: below 2^53 a remainder adds at least 1 ÷ chunkSize to the quotient, more than half
  // of its last place, so it is never rounded away.
  return size === 0 ? 1 : Math.ceil(size / chunkSize);
}

/** The length of chunk k (0-based): chunkSize, or less for the last one. */
export function chunkLength(size: number, chunkSize: number, k: number): number {
  const count = chunkCount(size, chunkSize);
  if (!Number.isInteger(k) || k < 0 || k >= count) {
    throw new InvariantError(`chunk ${k} is outside 0..${count - 1}`);
  }
  return Math.min(chunkSize, size - k * chunkSize);
}

/** The leaves of bytes held in memory (for small files and tests; a file on disk is hashed as a stream). */
export function leavesOf(bytes: Uint8Array, chunkSize: number = CHUNK_SIZE): Uint8Array[] {
  const count = chunkCount(bytes.length, chunkSize);
  const leaves: Uint8Array[] = [];
  for (let k = 0; k < count; k++) leaves.push(leafHash(bytes.subarray(k * chunkSize, (k + 1) * chunkSize)));
  return leaves;
}

/** The file id (43 base64url characters) of a file of `size` bytes cut into chunks with these leaves. */
export function fileId(size: number, chunkSize: number, leaves: readonly Uint8Array[]): string {
  const count = chunkCount(size, chunkSize);
  if (leaves.length !== count) {
    throw new InvariantError(`a file of ${size} bytes has ${count} chunks, got ${leaves.length} leaves`);
  }
  const input = new Uint8Array(FILE_PREFIX.length + 12 + HASH_BYTES);
  const view = new DataView(input.buffer);
  input.set(FILE_PREFIX, 0);
  view.setBigUint64(FILE_PREFIX.length, BigInt(size));
  view.setUint32(FILE_PREFIX.length + 8, chunkSize);
  input.set(merkleRoot(leaves), FILE_PREFIX.length + 12);
  return toBase64url(backend.sha256(input));
}

/** True when `chunk` is the chunk this leaf names. */
export function chunkMatches(chunk: Uint8Array, leaf: Uint8Array): boolean {
  return bytesEqual(leafHash(chunk), leaf);
}

export const FileIdSchema = base64urlBytes(HASH_BYTES);
/** A file name as peers show it: 1–255 characters, no '/' (a base name, never a path). */
export const FileNameSchema = z
  .string()
  .min(1)
  .max(MAX_FILE_NAME)
  .refine((s) => !s.includes('/'), "must not contain '/'");
export const FileSizeSchema = z.number().int().min(0).max(MAX_FILE_SIZE);

// zod may run an object's refinements after a field failed: count the chunks only from valid fields.
const sizesValid = (m: { size: unknown; chunkSize: unknown }) =>
  FileSizeSchema.safeParse(m.size).success && m.chunkSize === CHUNK_SIZE;

/**
 * A file's manifest (docs/p2p.md §3, `GET /p2p/files/:fileId/manifest`): every leaf, so a buyer checks
 * the tree once and then each chunk by its leaf. Protocol v1 has one chunk size, CHUNK_SIZE; it is
 * still on the wire (and bound into the file id) so a later version can change it.
 */
export const ManifestSchema = z
  .strictObject({
    fileId: FileIdSchema,
    name: FileNameSchema,
    size: FileSizeSchema,
    chunkSize: z.literal(CHUNK_SIZE),
    leaves: z.array(base64urlBytes(HASH_BYTES)).min(1),
  })
  .refine((m) => !sizesValid(m) || m.leaves.length === chunkCount(m.size, m.chunkSize), {
    message: 'the number of leaves must be the number of chunks',
    path: ['leaves'],
  });
export type Manifest = z.infer<typeof ManifestSchema>;

/** What checkManifest reports. */
export const MANIFEST_ERROR_CODES = ['malformed', 'file_id_mismatch'] as const;
export type ManifestErrorCode = (typeof MANIFEST_ERROR_CODES)[number];
/** Each code's HTTP status, for a service that answers with it. */
export const MANIFEST_ERROR_STATUS: Record<ManifestErrorCode, number> = {
  malformed: 400,
  file_id_mismatch: 422,
};
export interface ManifestError {
  readonly code: ManifestErrorCode;
  readonly message: string;
}

/** A manifest that checked out, with its leaves decoded for checking each chunk. */
export interface CheckedManifest {
  readonly manifest: Manifest;
  readonly leaves: readonly Uint8Array[];
}

/**
 * Validates a manifest from outside (a peer's answer, a file) and recomputes its file id from size,
 * chunk size and leaves: `file_id_mismatch` when the leaves are not those of the file it names. Never
 * throws.
 */
export function checkManifest(input: unknown): Result<CheckedManifest, ManifestError> {
  const parsed = ManifestSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    return {
      ok: false,
      error: { code: 'malformed', message: `manifest${where}: ${issue?.message ?? 'invalid'}` },
    };
  }
  const manifest = parsed.data;
  // The schema checked every leaf decodes to 32 bytes.
  const leaves = manifest.leaves.map((leaf) => fromBase64url(leaf)!);
  const computed = fileId(manifest.size, manifest.chunkSize, leaves);
  if (computed !== manifest.fileId) {
    return {
      ok: false,
      error: {
        code: 'file_id_mismatch',
        message: `the leaves hash to file ${computed}, not ${manifest.fileId}`,
      },
    };
  }
  return ok({ manifest, leaves });
}
