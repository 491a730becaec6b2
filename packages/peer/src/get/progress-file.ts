/**
 * A download's progress as a small JSON file in the peer's data folder, `downloads/<fileId>.json`: written
 * by `netpay peer get` (getFile, its own process) and read by the running peer's web view (web/view.ts).
 * Each write replaces the file whole (a temp file renamed over it), so a reader never sees half of one.
 * Progress is written at most every 250 ms, the start and the end (done, failed) at once. A download that
 * stopped without saying so (its process killed) is shown as `stopped`: its file says running, its
 * process is gone.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileIdSchema, FileSizeSchema, MinorWireSchema, NetPayError } from '@netpay/protocol';
import { z } from 'zod';
import type { Progress } from './download.ts';

/** The folder of progress files, in the peer's data folder. */
export const DOWNLOADS_DIR = 'downloads';
/** Progress files kept: a new download removes the oldest beyond this many. */
export const MAX_DOWNLOADS_KEPT = 50;
/** Largest progress file read; a bigger one is not ours. */
const MAX_PROGRESS_FILE_BYTES = 16 * 1024;
/** Least time between two progress writes, so a fast download writes a few times a second at most. */
const MIN_WRITE_INTERVAL_MS = 250;
/** A progress file's name: the file id (base64url, 43 characters) and `.json`. */
const PROGRESS_FILE_NAME = /^[A-Za-z0-9_-]{43}\.json$/;

/** One download as its progress file says. `spent` is minor units paid in this run. */
export const DownloadProgressSchema = z.strictObject({
  fileId: FileIdSchema,
  name: z.string().min(1).max(255),
  /** Where the file is being written. */
  path: z.string().min(1).max(4096),
  state: z.enum(['running', 'done', 'failed']),
  bytes: FileSizeSchema,
  total: FileSizeSchema,
  chunks: z.number().int().min(0),
  totalChunks: z.number().int().min(0),
  spent: MinorWireSchema,
  /** Sellers still in use. */
  sellers: z.number().int().min(0).max(10_000),
  startedAt: z.number().int().min(0),
  updatedAt: z.number().int().min(0),
  /** The process downloading. */
  pid: z.number().int().min(1),
  error: z.string().max(1000).optional(),
});
export type DownloadProgress = z.infer<typeof DownloadProgressSchema>;

/** A download as the view shows it: `stopped` when its file says running and its process is gone. */
export type DownloadShown = Omit<DownloadProgress, 'state'> & {
  state: DownloadProgress['state'] | 'stopped';
};

export interface ProgressFileOptions {
  readonly dataDir: string;
  readonly fileId: string;
  readonly name: string;
  readonly path: string;
  /** For startedAt and updatedAt. */
  readonly clock?: () => number;
  readonly minIntervalMs?: number;
}

export interface ProgressFile {
  /** Records the latest progress; written now or within the interval. */
  update(p: Progress): void;
  /** Records the end and writes it at once; later updates are ignored. */
  finish(state: 'done' | 'failed', error?: unknown): Promise<void>;
}

/**
 * Starts the progress file of a download (written at once, state running), removing the oldest progress
 * files beyond MAX_DOWNLOADS_KEPT. Writing it is best effort: a failed write never fails the download.
 */
export async function createProgressFile(o: ProgressFileOptions): Promise<ProgressFile> {
  if (!FileIdSchema.safeParse(o.fileId).success)
    throw new NetPayError('bad_request', `not a file id: ${JSON.stringify(o.fileId.slice(0, 64))}`, {
      status: 400,
    });
  const clock = o.clock ?? Date.now;
  const dir = join(o.dataDir, DOWNLOADS_DIR);
  await mkdir(dir, { recursive: true });
  await pruneOldest(dir, MAX_DOWNLOADS_KEPT - 1);
  const file = join(dir, `${o.fileId}.json`);
  const temp = `${file}.${process.pid}.tmp`;
  const startedAt = clock();
  let record: DownloadProgress = {
    fileId: o.fileId,
    name: o.name.slice(0, 255),
    path: o.path.slice(0, 4096),
    state: 'running',
    bytes: 0,
    total: 0,
    chunks: 0,
    totalChunks: 0,
    spent: '0',
    sellers: 0,
    startedAt,
    updatedAt: startedAt,
    pid: process.pid,
  };
  const interval = o.minIntervalMs ?? MIN_WRITE_INTERVAL_MS;
  let writing: Promise<void> = Promise.resolve();
  let lastWrite = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  /** Queues a write of the record as it is now; writes happen one after another, in order. */
  const write = () => {
    record = { ...record, updatedAt: clock() };
    const text = JSON.stringify(record);
    lastWrite = performance.now();
    writing = writing
      .then(async () => {
        await writeFile(temp, text);
        await rename(temp, file);
      })
      .catch(() => {}); // best effort: the download matters, its progress file does not
    return writing;
  };
  await write();
  return {
    update(p) {
      if (finished) return;
      record = {
        ...record,
        bytes: p.bytes,
        total: p.total,
        chunks: p.chunks,
        totalChunks: p.totalChunks,
        spent: p.spent.toString(),
        sellers: p.sellers,
      };
      if (timer) return; // a write is due; it takes the latest record
      const wait = lastWrite + interval - performance.now();
      if (wait <= 0) {
        void write();
        return;
      }
      timer = setTimeout(() => {
        timer = undefined;
        if (!finished) void write();
      }, wait);
      timer.unref();
    },
    async finish(state, error) {
      finished = true;
      clearTimeout(timer);
      timer = undefined;
      record = {
        ...record,
        state,
        ...(error === undefined
          ? {}
          : { error: (error instanceof Error ? error.message : String(error)).slice(0, 1000) }),
      };
      await write();
    },
  };
}

/** Removes the oldest progress files (by modification time) so that at most `keep` remain. */
async function pruneOldest(dir: string, keep: number): Promise<void> {
  const names = (await readdir(dir)).filter((n) => PROGRESS_FILE_NAME.test(n));
  if (names.length <= keep) return;
  const dated = await Promise.all(
    names.map(async (n) => ({ n, at: (await stat(join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  dated.sort((a, b) => b.at - a.at);
  for (const { n } of dated.slice(keep)) await rm(join(dir, n), { force: true });
}

export interface ReadDownloadsOptions {
  /** Most downloads returned, the latest updated first. Default MAX_DOWNLOADS_KEPT. */
  readonly limit?: number;
  /** Whether a process still runs. Default: signal 0 to it. */
  readonly alive?: (pid: number) => boolean;
}

/**
 * The downloads whose progress files are in a peer's data folder, the latest updated first. A file that
 * does not parse (being replaced, damaged, not ours) is left out.
 */
export async function readDownloads(dataDir: string, o: ReadDownloadsOptions = {}): Promise<DownloadShown[]> {
  const dir = join(dataDir, DOWNLOADS_DIR);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => PROGRESS_FILE_NAME.test(n));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  // At most a few more than are kept: another process may be adding one as we read.
  const read = await Promise.all(names.slice(0, 2 * MAX_DOWNLOADS_KEPT).map((n) => readOne(join(dir, n))));
  const alive = o.alive ?? processAlive;
  return read
    .filter((d): d is DownloadProgress => d !== undefined)
    .sort((a, b) => b.updatedAt - a.updatedAt)
    .slice(0, o.limit ?? MAX_DOWNLOADS_KEPT)
    .map((d) => (d.state === 'running' && !alive(d.pid) ? { ...d, state: 'stopped' as const } : d));
}

async function readOne(path: string): Promise<DownloadProgress | undefined> {
  try {
    if ((await stat(path)).size > MAX_PROGRESS_FILE_BYTES) return undefined;
    const parsed = DownloadProgressSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // gone or replaced meanwhile, or not JSON
  }
}

/** Whether a process with this id exists (EPERM: it does, as another user's). */
function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
