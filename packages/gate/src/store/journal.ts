/**
 * The vendor's journal of accepted coins (issue 15: no SQL on the hot path). While this vendor holds a
 * chain, its state in memory is the authority; each accepted advance is appended here and is on disk
 * (fdatasync) before its receipt leaves. Appends made while one is being written wait and go together,
 * so many payments share one fdatasync. The database gets the same advances written behind (behind.ts);
 * once it has all of them the journal is emptied. After a crash, `replay` reads back what is left.
 *
 * Why a file and not lmdb: one fdatasync of an append is all a group needs; a record is one line,
 * `crc32 json`, so a torn last write (the process died inside it, before its fdatasync, so before any of
 * its receipts left) is recognised and dropped.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { fromBase64url, toBase64url } from '@netpay/protocol';
import type { Advance } from './round.ts';

interface Line {
  c: string;
  f: number;
  fp: string;
  t: number;
  p: string;
  y?: string;
  r: unknown;
}

const toLine = (a: Advance): string => {
  const l: Line = {
    c: a.chainId,
    f: a.fromIndex,
    fp: toBase64url(a.fromPayword),
    t: a.toIndex,
    p: toBase64url(a.payword),
    ...(a.payees === undefined ? {} : { y: a.payees }),
    r: a.receipt,
  };
  const json = JSON.stringify(l);
  return `${crc32(json).toString(16)} ${json}\n`;
};

/** The line's advance, or undefined for a torn or damaged line. */
function fromLine(line: string): Advance | undefined {
  const space = line.indexOf(' ');
  const json = line.slice(space + 1);
  if (space < 1 || crc32(json).toString(16) !== line.slice(0, space)) return undefined;
  const l = JSON.parse(json) as Line;
  return {
    chainId: l.c,
    fromIndex: l.f,
    fromPayword: fromBase64url(l.fp)!,
    toIndex: l.t,
    payword: fromBase64url(l.p)!,
    ...(l.y === undefined ? {} : { payees: l.y }),
    receipt: l.r,
  };
}

/** The advances a journal file holds, in order, up to its first damaged line (none if it is absent). */
export function replay(path: string): Advance[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: Advance[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const a = fromLine(line);
    if (!a) break;
    out.push(a);
  }
  return out;
}

export interface Journal {
  /** Resolves once `a` is on disk; appends waiting meanwhile share the next write and fdatasync. */
  append(a: Advance): Promise<void>;
  /** Resolves when no append is waiting or being written. */
  idle(): Promise<void>;
  /** Empties the file when every advance in it is in the database too (`written` of them): true if so. */
  truncateIfAllWritten(written: number): Promise<boolean>;
  /** Advances made durable since the last truncation. */
  readonly durable: number;
  close(): Promise<void>;
}

export async function openJournal(path: string): Promise<Journal> {
  closeSync(openSync(path, 'a'));
  const file: FileHandle = await open(path, 'a');
  let waiting: { line: string; done: () => void; fail: (e: unknown) => void }[] = [];
  let writing: Promise<void> | null = null;
  let durable = 0;

  /**
   * Once a write or an fdatasync failed, what is on disk after the last good line is unknown: the journal
   * takes no more appends (each payment then fails, charging nothing) until the process starts again and
   * `replay` reads the good lines back.
   */
  let broken: unknown;

  /** Writes every waiting line (all its bytes) and one fdatasync, then the ones that came meanwhile. */
  async function writeAll(): Promise<void> {
    while (waiting.length > 0) {
      const group = waiting;
      waiting = [];
      try {
        if (broken) throw broken;
        await file.appendFile(group.map((g) => g.line).join(''));
        await file.datasync();
        durable += group.length;
        for (const g of group) g.done();
      } catch (e) {
        broken ??= e;
        for (const g of group) g.fail(e);
      }
    }
  }

  /** One file operation at a time: a group's write and fdatasync, or a truncation. */
  const start = (): Promise<void> => {
    if (writing) return writing;
    writing = new Promise<void>((r) => setImmediate(r)).then(writeAll).finally(() => {
      writing = null;
      if (waiting.length > 0) void start();
    });
    return writing;
  };

  async function idle() {
    while (writing) await writing;
  }

  return {
    append(a) {
      if (broken) return Promise.reject(broken);
      return new Promise<void>((done, fail) => {
        waiting.push({ line: toLine(a), done, fail });
        void start();
      });
    },
    idle,
    async truncateIfAllWritten(written) {
      await idle();
      if (written !== durable || waiting.length > 0) return false;
      // Set before any await: an append from now on waits for the truncation to be done.
      writing = file
        .truncate(0)
        .then(() => {
          durable = 0;
        })
        .finally(() => {
          writing = null;
          if (waiting.length > 0) void start();
        });
      await writing;
      return true;
    },
    get durable() {
      return durable;
    },
    close: () => file.close(),
  };
}
