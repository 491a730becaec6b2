/**
 * Hashes a file on disk into its manifest (docs/p2p.md §1): the file is read one chunk at a time into one
 * reused buffer, never whole into memory. A file that changes while it is read (its size or modification
 * time differs after the last chunk, or it ends early) is refused with `file_changed`: the caller tries
 * again on the next change.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  CHUNK_SIZE,
  chunkCount,
  chunkLength,
  FileNameSchema,
  fileId,
  leafHash,
  type Manifest,
  toBase64url,
} from '@netpay/protocol';
import { filesError } from './errors.ts';

/** A manifest with the leaves as bytes and the file's state when it was hashed. */
export interface HashedFile {
  readonly manifest: Manifest;
  readonly leaves: readonly Uint8Array[];
  /** The modification time the bytes were read at; with `manifest.size`, what tells a later change. */
  readonly mtimeMs: number;
}

/**
 * Reads up to `length` bytes at `position` into the start of `buffer`, across short reads; fewer only at
 * the end of the file. Returns how many were read.
 */
export async function readAt(
  handle: FileHandle,
  buffer: Uint8Array,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** The manifest of the file at `path`, named `name` (its base name unless given). */
export async function hashFile(path: string, name?: string): Promise<Manifest> {
  return (await hashFileWithState(path, name)).manifest;
}

/** As hashFile, with the leaves as bytes and the modification time the file was read at. */
export async function hashFileWithState(path: string, name: string = basename(path)): Promise<HashedFile> {
  if (!FileNameSchema.safeParse(name).success) {
    throw filesError('file_name_invalid', `a shared file's name is 1–255 characters without '/': ${name}`);
  }
  const handle = await open(path, 'r');
  try {
    const before = await handle.stat();
    const size = before.size;
    const count = chunkCount(size, CHUNK_SIZE);
    const buffer = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, Math.max(size, 1)));
    const leaves: Uint8Array[] = [];
    for (let k = 0; k < count; k++) {
      const length = chunkLength(size, CHUNK_SIZE, k);
      const read = await readAt(handle, buffer, length, k * CHUNK_SIZE);
      if (read !== length) throw filesError('file_changed', `${path} got shorter while it was hashed`);
      leaves.push(leafHash(buffer.subarray(0, length)));
    }
    const after = await handle.stat();
    if (after.size !== size || after.mtimeMs !== before.mtimeMs) {
      throw filesError('file_changed', `${path} changed while it was hashed`);
    }
    const manifest: Manifest = {
      fileId: fileId(size, CHUNK_SIZE, leaves),
      name,
      size,
      chunkSize: CHUNK_SIZE,
      leaves: leaves.map(toBase64url),
    };
    return { manifest, leaves, mtimeMs: before.mtimeMs };
  } finally {
    await handle.close();
  }
}
