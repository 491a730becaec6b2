/**
 * The progress files of downloads (progress-file.ts) in temp folders: written at the start, at most once
 * per interval while running, at once at the end; read back newest first, damaged or foreign files left
 * out, a running download whose process is gone shown as stopped, the oldest removed beyond the limit.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256, toBase64url } from '@netpay/protocol';
import { describe, expect, it } from 'vitest';
import {
  createProgressFile,
  DOWNLOADS_DIR,
  type DownloadProgress,
  MAX_DOWNLOADS_KEPT,
  readDownloads,
} from './progress-file.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'netpay-progress-'));
/** A file id (base64url of 32 bytes) named by a letter. */
const id = (c: string) => toBase64url(sha256(new TextEncoder().encode(c)));
const FILE = id('A');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const onDisk = (dataDir: string, fileId = FILE) =>
  JSON.parse(readFileSync(join(dataDir, DOWNLOADS_DIR, `${fileId}.json`), 'utf8')) as DownloadProgress;
const progress = (bytes: number) => ({
  bytes,
  total: 1000,
  chunks: bytes / 100,
  totalChunks: 10,
  spent: BigInt(bytes / 10),
  sellers: 2,
});

describe('download progress files', () => {
  it('writes the start at once, then at most once per interval, and the end at once', async () => {
    const dataDir = tmp();
    let now = 1_000;
    const p = await createProgressFile({
      dataDir,
      fileId: FILE,
      name: 'song.ogg',
      path: '/tmp/song.ogg',
      clock: () => now,
      minIntervalMs: 200,
    });
    expect(onDisk(dataDir)).toMatchObject({ state: 'running', bytes: 0, startedAt: 1_000, pid: process.pid });
    // The start was just written: these wait for the interval, and the last one is what gets written.
    for (let b = 100; b <= 500; b += 100) p.update(progress(b));
    await sleep(50);
    expect(onDisk(dataDir).bytes).toBe(0);
    now = 2_000;
    await expect.poll(() => onDisk(dataDir).bytes, { timeout: 2_000 }).toBe(500);
    expect(onDisk(dataDir)).toMatchObject({ spent: '50', sellers: 2, chunks: 5, updatedAt: 2_000 });
    p.update(progress(600));
    await p.finish('done');
    expect(onDisk(dataDir)).toMatchObject({ state: 'done', bytes: 600 });
    p.update(progress(700)); // after the end: ignored
    await sleep(300);
    expect(onDisk(dataDir)).toMatchObject({ state: 'done', bytes: 600 });
    expect(readdirSync(join(dataDir, DOWNLOADS_DIR))).toEqual([`${FILE}.json`]); // no temp file left
  });

  it('records why a download failed', async () => {
    const dataDir = tmp();
    const p = await createProgressFile({ dataDir, fileId: FILE, name: 'a', path: '/tmp/a' });
    await p.finish('failed', new Error('3 of 9 chunks are missing and no seller is left'));
    expect(onDisk(dataDir)).toMatchObject({ state: 'failed', error: expect.stringContaining('no seller') });
  });

  it('refuses a file id that is not one (it names the file)', async () => {
    const dataDir = tmp();
    await expect(
      createProgressFile({ dataDir, fileId: '../../escape', name: 'a', path: '/tmp/a' }),
    ).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('reads the downloads newest first, leaves out what does not parse, shows a dead running one as stopped', async () => {
    const dataDir = tmp();
    const older = await createProgressFile({
      dataDir,
      fileId: id('B'),
      name: 'older',
      path: '/tmp/older',
      clock: () => 10,
    });
    await older.finish('done');
    await createProgressFile({
      dataDir,
      fileId: id('C'),
      name: 'newer',
      path: '/tmp/newer',
      clock: () => 20,
    });
    const dir = join(dataDir, DOWNLOADS_DIR);
    writeFileSync(join(dir, `${id('D')}.json`), '{"fileId": "half a fi');
    writeFileSync(join(dir, `${id('E')}.json`), JSON.stringify({ ...onDisk(dataDir, id('C')), spent: '-5' }));
    writeFileSync(join(dir, 'notes.json'), JSON.stringify(onDisk(dataDir, id('C'))));
    const shown = await readDownloads(dataDir);
    expect(shown.map((d) => [d.name, d.state])).toEqual([
      ['newer', 'running'], // this process: alive
      ['older', 'done'],
    ]);
    const gone = await readDownloads(dataDir, { alive: () => false });
    expect(gone.map((d) => d.state)).toEqual(['stopped', 'done']);
    // a download whose process really exited without finishing
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(
      join(dir, `${id('F')}.json`),
      JSON.stringify({ ...onDisk(dataDir, id('C')), fileId: id('F'), pid: dead, updatedAt: 30 }),
    );
    expect((await readDownloads(dataDir))[0]).toMatchObject({ fileId: id('F'), state: 'stopped' });
    expect(await readDownloads(tmp())).toEqual([]);
  });

  it(`keeps the ${MAX_DOWNLOADS_KEPT} newest progress files`, async () => {
    const dataDir = tmp();
    const dir = join(dataDir, DOWNLOADS_DIR);
    mkdirSync(dir, { recursive: true });
    const ids = Array.from(
      { length: MAX_DOWNLOADS_KEPT + 3 },
      (_, k) => `${String(k).padStart(3, '0')}${'x'.repeat(40)}`,
    );
    ids.forEach((f, k) => {
      writeFileSync(join(dir, `${f}.json`), '{}');
      utimesSync(join(dir, `${f}.json`), 1_000 + k, 1_000 + k); // the first ones are the oldest
    });
    await createProgressFile({ dataDir, fileId: FILE, name: 'new', path: '/tmp/new' });
    const left = readdirSync(dir).sort();
    expect(left).toHaveLength(MAX_DOWNLOADS_KEPT);
    expect(left).toContain(`${FILE}.json`);
    expect(left).not.toContain(`${ids[3]}.json`);
    expect(left).toContain(`${ids[4]}.json`);
  });
});
