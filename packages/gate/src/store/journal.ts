/**
 * The vendor's journal of accepted coins (issue 15: no SQL on the hot path). While this vendor holds a
 * chain, its state in memory is the authority; each accepted advance is appended here and is on disk
 * (fdatasync) before its receipt leaves. Appends made while one is being written wait and go together,
 * so many payments share one fdatasync. The journal is a run of segment files: the write-behind (behind.ts)
 * cuts it, writes the cut's advances into the database, and drops the cut's files once the database has
 * them on disk. After a crash, `replay` reads back every segment left.
 *
 * Why a file and not lmdb: one fdatasync of an append is all a group needs; a record is one line,
 * `crc32 json`, so a torn last write (the process died inside it, before its fdatasync, so before any of
 * its receipts left) is recognised and dropped.
 */
import { closeSync, openSync, readdirSync, readFileSync, write } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { fromBase64url, type IndexMessage, toBase64url } from '@netpay/protocol';
import type { Advance } from './round.ts';

interface Line {
  c: string;
  f: number;
  fp: string;
  t: number;
  p: string;
  y?: string;
  e?: IndexMessage;
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
    ...(a.evidence === undefined ? {} : { e: a.evidence }),
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
    ...(l.e === undefined ? {} : { evidence: l.e }),
    receipt: l.r,
  };
}

/** The segment files of the journal at `path` (`path.1`, `path.2`, …; a lone `path` from before counts first). */
export function segments(path: string): string[] {
  const base = basename(path);
  const found: [number, string][] = [];
  for (const name of readdirSync(dirname(path))) {
    if (name === base) found.push([0, name]);
    const n = name.startsWith(`${base}.`) ? Number(name.slice(base.length + 1)) : Number.NaN;
    if (Number.isInteger(n) && n > 0) found.push([n, name]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, name]) => join(dirname(path), name));
}

/**
 * The advances the journal holds, in order, leaving out damaged lines. Groups are written up to
 * MAX_IN_FLIGHT at a time, so a crash may leave a torn group before complete ones; each group starts on a
 * fresh line, so a tear spoils only its own lines. Per chain the order holds: a chain's next payment is
 * checked only after its last one is on disk (the chain's lock), so it is always in a later group.
 */
export function replay(path: string): Advance[] {
  const out: Advance[] = [];
  for (const file of segments(path)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line === '') continue;
      const a = fromLine(line);
      if (a) out.push(a); // a damaged line is a group whose write never finished: none of it was receipted
    }
  }
  return out;
}

/** What `cut` hands over: the advances made durable since the last cut, and the files that hold them. */
export interface Cut {
  readonly advances: readonly Advance[];
  readonly files: readonly string[];
}

export interface Journal {
  /** Resolves once `a` is on disk; appends made while a group is written share the next write. */
  append(a: Advance): Promise<void>;
  /** Resolves once every append made before the call is on disk (or failed). */
  settled(): Promise<void>;
  /**
   * Every advance made durable since the last cut; appends from now on go to a new segment file, so the
   * returned files can be dropped once the database has their advances for good (`drop`).
   */
  cut(): Promise<Cut>;
  /** Deletes segment files whose advances the database has durably. */
  drop(files: readonly string[]): Promise<void>;
  /** Advances made durable since the last cut. */
  readonly pending: number;
  close(): Promise<void>;
}

interface Waiting {
  readonly line: string;
  readonly advance: Advance;
  readonly done: () => void;
  readonly fail: (e: unknown) => void;
}

/**
 * Groups written at once: a payment waits for its own group's write, not for the one before it as well.
 * Measured side by side (bench/profile.ts, medians of 3 windows): 1, 2 and 4 at once cost 81, 80 and
 * 85–92 µs of CPU per paid request at full speed (more groups, more O_SYNC commits), and gave an in-server
 * p99 of 5.7, 4.8 and ~6.5 ms at 3,500 paid requests/s — all within this machine's noise; 2 kept.
 */
const MAX_IN_FLIGHT = 2;

/**
 * Opens a new segment after the journal's existing ones (those stay until dropped: the caller has
 * replayed them). Segments are cut by the write-behind, so no file grows without end.
 *
 * A group is one `write` to a file opened O_SYNC (durable when it returns, like write + fdatasync), done
 * on libuv's pool so the event loop never waits for the disk; up to MAX_IN_FLIGHT groups at once, and the
 * appends made while all are busy form the next. Measured here, per group: fs/promises appendFile +
 * datasync ≈ 80 µs user + 125 µs system CPU; one O_SYNC write by callback ≈ 28 + 80; synchronous write +
 * fdatasync ≈ 3 + 63 but with the whole event loop stalled for the disk (up to 250 ms seen while other
 * processes wrote); a worker thread ≈ 50 + 80. lmdb-js was the other candidate; a file needs nothing but
 * this and its checksums.
 */
export async function openJournal(path: string): Promise<Journal> {
  const last = segments(path).at(-1);
  let number = last && last !== path ? Number(last.slice(path.length + 1)) : 0;
  const next = () => {
    const name = `${path}.${++number}`;
    return { fd: openSync(name, 'as'), name };
  };
  let file = next();
  let waiting: Waiting[] = [];
  let scheduled = false;
  /** Groups being written, by the sequence number of their first append. */
  const inFlight = new Set<number>();
  /** Appends handed to a write (sequence numbers 1, 2, …); those made are these and the waiting ones. */
  let sent = 0;
  const appended = () => sent + waiting.length;
  let settledWaiters: { target: number; resolve: () => void }[] = [];
  /** Made durable since the last cut. */
  let sinceCut: Advance[] = [];
  let cutAsked: ((c: Cut) => void) | null = null;

  /**
   * Once a write failed, what is on disk after the last good line is unknown: the journal takes no more
   * appends (each payment then fails, charging nothing) until the process starts again and `replay`
   * reads the good lines back.
   */
  let broken: unknown;

  /** Every append up to this sequence number is written or failed. */
  const doneThrough = () => (inFlight.size === 0 ? sent : Math.min(...inFlight) - 1);

  /** A cut asked for, made now if no group is being written: later groups go to a new file. */
  function switchFile() {
    if (!cutAsked || inFlight.size > 0) return;
    const resolve = cutAsked;
    cutAsked = null;
    const old = file;
    file = next();
    closeSync(old.fd);
    const cut = { advances: sinceCut, files: [old.name] };
    sinceCut = [];
    resolve(cut);
  }

  /** Writes the waiting appends as one group (all its bytes, O_SYNC), if a write may start now. */
  function writeGroup() {
    scheduled = false;
    // While a cut waits, no group starts: the ones in flight finish, the file switches, then writing goes on.
    if (waiting.length === 0 || inFlight.size >= MAX_IN_FLIGHT || cutAsked) return;
    const group = waiting;
    waiting = [];
    const first = sent + 1;
    sent += group.length;
    inFlight.add(first);
    const finished = (e: unknown) => {
      inFlight.delete(first);
      if (e) broken ??= e;
      for (const g of group) {
        if (e || broken) g.fail(e ?? broken);
        else {
          sinceCut.push(g.advance);
          g.done();
        }
      }
      const through = doneThrough();
      const told = settledWaiters.filter((w) => w.target <= through);
      settledWaiters = settledWaiters.filter((w) => w.target > through);
      for (const w of told) w.resolve();
      switchFile();
      writeGroup();
    };
    if (broken) return finished(broken);
    // A fresh line first: a group torn by a crash never runs into the next one's first line.
    const text = `\n${group.map((g) => g.line).join('')}`;
    writeAllBytes(file.fd, Buffer.from(text, 'utf8'), finished);
  }

  return {
    append(a) {
      if (broken) return Promise.reject(broken);
      return new Promise<void>((done, fail) => {
        waiting.push({ line: toLine(a), advance: a, done, fail });
        if (!scheduled) {
          scheduled = true;
          setImmediate(writeGroup); // after every request read this turn has appended
        }
      });
    },
    settled() {
      const target = appended();
      if (doneThrough() >= target) return Promise.resolve();
      return new Promise<void>((resolve) => settledWaiters.push({ target, resolve }));
    },
    cut() {
      return new Promise<Cut>((resolve) => {
        cutAsked = resolve;
        switchFile();
        writeGroup(); // appends that waited for the switch
      });
    },
    async drop(files) {
      for (const f of files) await rm(f, { force: true });
    },
    get pending() {
      return sinceCut.length;
    },
    async close() {
      const target = appended();
      if (doneThrough() < target)
        await new Promise<void>((resolve) => settledWaiters.push({ target, resolve }));
      closeSync(file.fd);
    },
  };
}

/** Writes all of `bytes` (a write may take only part), then calls back once. */
function writeAllBytes(fd: number, bytes: Buffer, done: (e: unknown) => void, at = 0): void {
  write(fd, bytes, at, bytes.length - at, null, (e, n) => {
    if (e) return done(e);
    if (at + n < bytes.length) return writeAllBytes(fd, bytes, done, at + n);
    done(null);
  });
}
