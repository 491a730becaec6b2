/**
 * A peer's shared folder: every regular file under `dir` (subfolders too; symbolic links are not
 * followed), hashed into its manifest and indexed by file id, at one price per chunk. The folder is
 * watched: a change is picked up after `debounceMs` of quiet (at most `maxWaitMs` after the first
 * event), and only files whose size or modification time moved are hashed again. A file still being
 * written is picked up by the change event that follows its last write.
 *
 * A file's manifest carries its base name (no '/'); its path relative to `dir` stays here. Two files with
 * the same bytes have one file id: the first by path is served.
 */
import { type Dirent, type FSWatcher, watch } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  chunkCount,
  chunkLength,
  chunkMatches,
  InvariantError,
  isNetPayError,
  MAX_MINOR,
  type Manifest,
} from '@netpay/protocol';
import { filesError } from './errors.ts';
import { type HashedFile, hashFileWithState, readAt } from './hash-file.ts';

/** Most files one peer shares: the CIS takes at most 10,000 in `PUT /p2p/files` (docs/p2p.md §2). */
export const MAX_SHARED_FILES = 10_000;

/** One shared file. */
export interface SharedFile {
  readonly manifest: Manifest;
  /** Its path relative to the folder, '/'-separated. */
  readonly path: string;
  /** Price of one chunk, in minor units. */
  readonly price: bigint;
}

export interface SharedFolderOptions {
  readonly dir: string;
  /** Price of one chunk of any file here, in minor units. */
  readonly price: bigint;
  /** Called after the index changed (not after the first scan), with every shared file. */
  readonly onChange?: (files: readonly SharedFile[]) => void;
  /** A file that could not be hashed or read, a watcher that failed. By default a process warning. */
  readonly onError?: (error: unknown) => void;
  readonly debounceMs?: number;
  readonly maxWaitMs?: number;
  readonly maxFiles?: number;
}

export interface SharedFolder {
  /** Every shared file, by path. */
  list(): SharedFile[];
  get(fileId: string): SharedFile | undefined;
  /** Chunk k (0-based) of a shared file, read from disk and checked against its leaf. */
  readChunk(fileId: string, k: number): Promise<Buffer>;
  /** Stops watching; waits for a scan under way. */
  close(): Promise<void>;
}

/** What a scan saw of one file, and what hashing it gave (nothing when it failed: tried again on a change). */
interface Entry {
  readonly size: number;
  readonly mtimeMs: number;
  readonly hashed: HashedFile | undefined;
}

interface Found {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

interface Indexed extends SharedFile {
  readonly leaves: readonly Uint8Array[];
}

/** A download in progress (get/download.ts writes `<name>.part` and its record): not shared until done. */
const DOWNLOADING = /\.part(\.json)?$/;

const isMissing = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

/**
 * Every regular file under `dir` in path order (up to `limit`), with its size and modification time. A
 * missing folder is empty; a subfolder that cannot be read is reported and left out.
 */
async function walk(
  dir: string,
  limit: number,
  onError: (e: unknown) => void,
): Promise<{ files: Found[]; truncated: boolean }> {
  const files: Found[] = [];
  const visit = async (prefix: string): Promise<boolean> => {
    let entries: Dirent[];
    try {
      entries = await readdir(join(dir, prefix), { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return true;
      if (prefix === '') throw e;
      onError(e);
      return true;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!(await visit(path))) return false;
      } else if (entry.isFile() && !DOWNLOADING.test(entry.name)) {
        if (files.length >= limit) return false;
        try {
          const s = await stat(join(dir, path));
          if (s.isFile()) files.push({ path, size: s.size, mtimeMs: s.mtimeMs });
        } catch (e) {
          if (!isMissing(e)) onError(e);
        }
      }
    }
    return true;
  };
  const complete = await visit('');
  return { files, truncated: !complete };
}

export async function createSharedFolder(options: SharedFolderOptions): Promise<SharedFolder> {
  const { dir, price } = options;
  if (price < 0n || price > MAX_MINOR) throw new InvariantError(`a chunk price is 0..2^63−1, got ${price}`);
  const debounceMs = options.debounceMs ?? 300;
  const maxWaitMs = options.maxWaitMs ?? 3_000;
  const maxFiles = options.maxFiles ?? MAX_SHARED_FILES;
  const onError =
    options.onError ??
    ((e: unknown) => process.emitWarning(`shared folder ${dir}: ${(e as Error)?.message ?? e}`));

  const byPath = new Map<string, Entry>();
  let byId = new Map<string, Indexed>();
  let closed = false;
  let pending = false;
  let firstPendingAt: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let warnedTooMany = false;

  const list = (): SharedFile[] =>
    [...byId.values()].map(({ manifest, path }) => ({ manifest, path, price }));

  async function hashOne(found: Found): Promise<Entry> {
    try {
      const hashed = await hashFileWithState(join(dir, found.path));
      return { size: hashed.manifest.size, mtimeMs: hashed.mtimeMs, hashed };
    } catch (e) {
      // A file that vanished needs no word; it is gone from the next walk.
      if (!isMissing(e) && !isNetPayError(e, 'file_changed')) onError(e);
      return { size: found.size, mtimeMs: found.mtimeMs, hashed: undefined };
    }
  }

  /** Brings the index up to the folder; true when the set of shared files changed. */
  async function scan(): Promise<boolean> {
    const { files, truncated } = await walk(dir, maxFiles, onError);
    if (truncated && !warnedTooMany) {
      warnedTooMany = true;
      onError(
        filesError('too_many_files', `${dir} holds more than ${maxFiles} files: the rest are not shared`),
      );
    }
    let changed = false;
    const seen = new Set<string>();
    for (const found of files) {
      if (closed) return false;
      seen.add(found.path);
      const known = byPath.get(found.path);
      if (known && known.size === found.size && known.mtimeMs === found.mtimeMs) continue;
      const entry = await hashOne(found);
      byPath.set(found.path, entry);
      if (known?.hashed?.manifest.fileId !== entry.hashed?.manifest.fileId) changed = true;
    }
    for (const [path, entry] of byPath) {
      if (seen.has(path)) continue;
      byPath.delete(path);
      if (entry.hashed) changed = true;
    }
    if (changed) byId = index();
    return changed;
  }

  /** The file ids of what byPath holds; the first path wins where two files have the same bytes. */
  function index(): Map<string, Indexed> {
    const out = new Map<string, Indexed>();
    const paths = [...byPath.keys()].sort();
    for (const path of paths) {
      const hashed = byPath.get(path)!.hashed;
      if (!hashed || out.has(hashed.manifest.fileId)) continue;
      out.set(hashed.manifest.fileId, { manifest: hashed.manifest, leaves: hashed.leaves, path, price });
    }
    return out;
  }

  async function scanAndNotify(): Promise<void> {
    try {
      if ((await scan()) && !closed) options.onChange?.(list());
    } catch (e) {
      onError(e);
    }
  }

  /** A change seen: scan after debounceMs of quiet, or maxWaitMs after the first change at the latest. */
  function changeSeen(): void {
    if (closed) return;
    pending = true;
    const now = Date.now();
    firstPendingAt ??= now;
    clearTimeout(timer);
    timer = setTimeout(kick, Math.max(0, Math.min(debounceMs, firstPendingAt + maxWaitMs - now)));
  }

  /** Starts a scan unless one is running; one running starts the next itself when changes came meanwhile. */
  function kick(): void {
    timer = undefined;
    if (running || closed || !pending) return;
    pending = false;
    firstPendingAt = undefined;
    running = scanAndNotify().finally(() => {
      running = undefined;
      if (pending && timer === undefined) kick();
    });
  }

  const watcher: FSWatcher = watch(dir, { recursive: true }, changeSeen);
  watcher.on('error', onError);
  running = scan()
    .then(() => undefined)
    .finally(() => {
      running = undefined;
    });
  try {
    await running;
  } catch (e) {
    closed = true;
    watcher.close();
    throw e;
  }
  if (pending && timer === undefined) kick();

  async function readChunk(fileId: string, k: number): Promise<Buffer> {
    const file = byId.get(fileId);
    if (!file) throw filesError('file_not_found', `no shared file ${fileId}`);
    const { size, chunkSize } = file.manifest;
    const count = chunkCount(size, chunkSize);
    if (!Number.isInteger(k) || k < 0 || k >= count) {
      throw filesError('chunk_out_of_range', `chunk ${k} of a file of ${count} chunks`);
    }
    const length = chunkLength(size, chunkSize, k);
    const chunk = Buffer.alloc(length);
    let read: number;
    try {
      const handle = await open(join(dir, file.path), 'r');
      try {
        read = await readAt(handle, chunk, length, k * chunkSize);
      } finally {
        await handle.close();
      }
    } catch (e) {
      if (!isMissing(e)) throw e;
      changeSeen();
      throw filesError('file_not_found', `${file.path} is gone`);
    }
    // Never serve bytes other than those the file id names: a buyer pays for this chunk before checking it.
    if (read !== length || !chunkMatches(chunk, file.leaves[k]!)) {
      // Hashed again by the next scan even if its size and modification time look the same.
      byPath.delete(file.path);
      changeSeen();
      throw filesError('file_changed', `${file.path} changed since it was hashed`);
    }
    return chunk;
  }

  return {
    list,
    get: (fileId) => {
      const file = byId.get(fileId);
      return file && { manifest: file.manifest, path: file.path, price };
    },
    readChunk,
    async close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
      await running;
    },
  };
}
