import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHUNK_SIZE, checkManifest, fileId, isNetPayError, leavesOf, toBase64url } from '@netpay/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashFile, hashFileWithState } from './hash-file.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'netpay-hash-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fileOf(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

describe('hashFile', () => {
  it('gives the manifest of the bytes in memory: 3 chunks and a partial one', async () => {
    const bytes = randomBytes(3 * CHUNK_SIZE + 12_345);
    const manifest = await hashFile(await fileOf('movie.mkv', bytes));
    const leaves = leavesOf(bytes);
    expect(manifest).toEqual({
      fileId: fileId(bytes.length, CHUNK_SIZE, leaves),
      name: 'movie.mkv',
      size: bytes.length,
      chunkSize: CHUNK_SIZE,
      leaves: leaves.map(toBase64url),
    });
    expect(manifest.leaves).toHaveLength(4);
    expect(checkManifest(manifest).ok).toBe(true);
  });

  it('hashes an empty file, a one-chunk file and an exact number of chunks', async () => {
    for (const size of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, 2 * CHUNK_SIZE]) {
      const bytes = randomBytes(size);
      const { manifest, leaves, mtimeMs } = await hashFileWithState(await fileOf(`f${size}`, bytes));
      expect(manifest.fileId).toBe(fileId(size, CHUNK_SIZE, leavesOf(bytes)));
      expect(leaves.map(toBase64url)).toEqual(manifest.leaves);
      expect(leaves).toHaveLength(Math.max(1, Math.ceil(size / CHUNK_SIZE)));
      expect(mtimeMs).toBeGreaterThan(0);
    }
  });

  it('names the file as told, and refuses a name a manifest cannot carry', async () => {
    const path = await fileOf('a.txt', Buffer.from('hello'));
    expect((await hashFile(path, 'greeting.txt')).name).toBe('greeting.txt');
    for (const name of ['', 'a/b', 'x'.repeat(256)]) {
      await expect(hashFile(path, name)).rejects.toSatisfy((e) => isNetPayError(e, 'file_name_invalid'));
    }
  });

  it('fails for a file that is not there', async () => {
    await expect(hashFile(join(dir, 'nothing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
