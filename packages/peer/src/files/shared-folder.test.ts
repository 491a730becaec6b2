import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CHUNK_SIZE, fileId, isNetPayError, leavesOf } from '@netpay/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSharedFolder, type SharedFile, type SharedFolder } from './shared-folder.ts';

let root: string;
let dir: string;
const folders: SharedFolder[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'netpay-share-'));
  dir = join(root, 'shared');
  await mkdir(dir);
});
afterEach(async () => {
  await Promise.all(folders.splice(0).map((f) => f.close()));
  await rm(root, { recursive: true, force: true });
});

const idOf = (bytes: Uint8Array) => fileId(bytes.length, CHUNK_SIZE, leavesOf(bytes));

async function put(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(join(dir, path)), { recursive: true });
  await writeFile(join(dir, path), bytes);
}

/** A shared folder on `dir` that records each onChange and each error, closed after the test. */
async function share(options: { debounceMs?: number; maxFiles?: number } = {}) {
  const changes: (readonly SharedFile[])[] = [];
  const errors: unknown[] = [];
  const folder = await createSharedFolder({
    dir,
    price: 3n,
    onChange: (files) => changes.push(files),
    onError: (e) => errors.push(e),
    debounceMs: options.debounceMs ?? 50,
    ...(options.maxFiles === undefined ? {} : { maxFiles: options.maxFiles }),
  });
  folders.push(folder);
  const paths = () =>
    folder
      .list()
      .map((f) => f.path)
      .sort();
  return { folder, changes, errors, paths };
}

describe('shared folder: the first scan', () => {
  it('indexes every regular file, top level and in subfolders, by file id, named by base name', async () => {
    const song = randomBytes(1000);
    const film = randomBytes(3 * CHUNK_SIZE + 77);
    await put('song.mp3', song);
    await put('films/2024/film.mkv', film);
    await put('empty', new Uint8Array(0));
    await symlink(join(root, 'outside'), join(dir, 'link'));
    await writeFile(join(root, 'outside'), 'not shared');
    const { folder, changes, paths } = await share();

    expect(paths()).toEqual(['empty', 'films/2024/film.mkv', 'song.mp3']);
    const entry = folder.get(idOf(film))!;
    expect(entry.path).toBe('films/2024/film.mkv');
    expect(entry.price).toBe(3n);
    expect(entry.manifest).toMatchObject({ name: 'film.mkv', size: film.length, chunkSize: CHUNK_SIZE });
    expect(entry.manifest.leaves).toHaveLength(4);
    expect(folder.get(idOf(song))?.manifest.name).toBe('song.mp3');
    expect(folder.get(idOf(new Uint8Array(0)))?.manifest.size).toBe(0);
    expect(folder.get(idOf(randomBytes(10)))).toBeUndefined();
    expect(changes).toEqual([]);
  });

  it('shares at most maxFiles files, and says so', async () => {
    for (const name of ['a', 'b', 'c']) await put(name, Buffer.from(name));
    const { paths, errors } = await share({ maxFiles: 2 });
    expect(paths()).toEqual(['a', 'b']);
    expect(errors.some((e) => isNetPayError(e, 'too_many_files'))).toBe(true);
  });

  it('refuses a negative price', async () => {
    await expect(createSharedFolder({ dir, price: -1n })).rejects.toThrow(/price/);
  });
});

describe('shared folder: readChunk', () => {
  it('returns the exact bytes of each chunk, the last one short', async () => {
    const film = randomBytes(3 * CHUNK_SIZE + 77);
    await put('film.mkv', film);
    await put('empty', new Uint8Array(0));
    const { folder } = await share();
    const id = idOf(film);
    for (let k = 0; k < 4; k++) {
      const chunk = await folder.readChunk(id, k);
      expect(chunk.equals(film.subarray(k * CHUNK_SIZE, (k + 1) * CHUNK_SIZE))).toBe(true);
    }
    expect((await folder.readChunk(id, 3)).length).toBe(77);
    expect((await folder.readChunk(idOf(new Uint8Array(0)), 0)).length).toBe(0);
  });

  it('refuses a chunk out of range and an unknown file', async () => {
    const film = randomBytes(CHUNK_SIZE + 1);
    await put('film.mkv', film);
    const { folder } = await share();
    for (const k of [2, -1, 0.5, Number.NaN]) {
      await expect(folder.readChunk(idOf(film), k)).rejects.toSatisfy((e) =>
        isNetPayError(e, 'chunk_out_of_range'),
      );
    }
    await expect(folder.readChunk(idOf(randomBytes(5)), 0)).rejects.toSatisfy((e) =>
      isNetPayError(e, 'file_not_found'),
    );
  });

  it('never serves bytes the file id does not name: a file changed before the watcher saw it', async () => {
    const film = randomBytes(2 * CHUNK_SIZE);
    await put('film.mkv', film);
    // A long debounce: the index still holds the old file id when the chunk is asked for.
    const { folder } = await share({ debounceMs: 60_000 });
    const other = Buffer.from(film);
    other[CHUNK_SIZE + 5]! ^= 1;
    await put('film.mkv', other);
    expect((await folder.readChunk(idOf(film), 0)).equals(film.subarray(0, CHUNK_SIZE))).toBe(true);
    await expect(folder.readChunk(idOf(film), 1)).rejects.toSatisfy((e) => isNetPayError(e, 'file_changed'));
    await rm(join(dir, 'film.mkv'));
    await expect(folder.readChunk(idOf(film), 0)).rejects.toSatisfy((e) =>
      isNetPayError(e, 'file_not_found'),
    );
  });
});

describe('shared folder: watching', () => {
  it('hashes a file again when a read finds bytes changed under the same size and modification time', async () => {
    const film = randomBytes(2 * CHUNK_SIZE);
    await put('film.mkv', film);
    await utimes(join(dir, 'film.mkv'), 1_700_000_000, 1_700_000_000);
    const { folder } = await share();
    const other = Buffer.from(film);
    other[CHUNK_SIZE + 5]! ^= 1;
    await put('film.mkv', other);
    await utimes(join(dir, 'film.mkv'), 1_700_000_000, 1_700_000_000);
    await expect(folder.readChunk(idOf(film), 1)).rejects.toSatisfy((e) => isNetPayError(e, 'file_changed'));
    await expect.poll(() => folder.get(idOf(other))?.path).toBe('film.mkv');
    expect(folder.get(idOf(film))).toBeUndefined();
  });

  it('picks up a file added, changed and deleted, and calls onChange each time', async () => {
    await put('old.txt', Buffer.from('old'));
    const { folder, changes } = await share();

    const added = randomBytes(CHUNK_SIZE + 10);
    await put('new/added.bin', added);
    await expect.poll(() => folder.get(idOf(added))?.path).toBe('new/added.bin');
    await expect
      .poll(() =>
        changes
          .at(-1)
          ?.map((f) => f.path)
          .sort(),
      )
      .toEqual(['new/added.bin', 'old.txt']);

    await appendFile(join(dir, 'new/added.bin'), 'more');
    const changed = Buffer.concat([added, Buffer.from('more')]);
    await expect.poll(() => folder.get(idOf(changed))?.path).toBe('new/added.bin');
    expect(folder.get(idOf(added))).toBeUndefined();
    expect(changes.at(-1)?.some((f) => f.manifest.fileId === idOf(changed))).toBe(true);

    await rm(join(dir, 'new'), { recursive: true });
    await expect.poll(() => folder.get(idOf(changed))).toBeUndefined();
    expect(folder.list().map((f) => f.path)).toEqual(['old.txt']);
  });

  it('hashes again only files whose size or modification time moved', async () => {
    await put('a', Buffer.from('a'));
    const { folder, changes } = await share();
    const before = folder.get(idOf(Buffer.from('a')))!;
    await put('b', Buffer.from('b'));
    await expect.poll(() => folder.list().length).toBe(2);
    // The same manifest object: 'a' was not hashed again.
    expect(folder.get(idOf(Buffer.from('a')))!.manifest).toBe(before.manifest);
    expect(changes.at(-1)).toHaveLength(2);
  });

  it('keeps serving bytes shared under two paths when one goes', async () => {
    const bytes = randomBytes(500);
    await put('a/copy', bytes);
    await put('b/copy', bytes);
    const { folder } = await share();
    expect(folder.list()).toHaveLength(1);
    expect(folder.get(idOf(bytes))?.path).toBe('a/copy');
    await rm(join(dir, 'a'), { recursive: true });
    await expect.poll(() => folder.get(idOf(bytes))?.path).toBe('b/copy');
    expect((await folder.readChunk(idOf(bytes), 0)).equals(bytes)).toBe(true);
  });

  it('picks up a file written in several steps once the writes stop', async () => {
    const { folder } = await share();
    const parts = [randomBytes(CHUNK_SIZE), randomBytes(CHUNK_SIZE), randomBytes(999)];
    for (const part of parts) {
      await appendFile(join(dir, 'growing'), part);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const whole = Buffer.concat(parts);
    await expect.poll(() => folder.get(idOf(whole))?.path).toBe('growing');
    expect(folder.list()).toHaveLength(1);
  });
});
