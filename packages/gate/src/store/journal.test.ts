/**
 * The journal (journal.ts, behind.ts, journaled.ts): coins durable before their receipt, written behind
 * into SQL merged, what a crash leaves recovered exactly once, a torn last line dropped, a holding's end
 * waiting for every coin accepted before it. On PGlite, the database the journal is for.
 */

/**
 * The journal (journal.ts, behind.ts, journaled.ts): coins durable before their receipt, written behind
 * into SQL merged, what a crash leaves recovered exactly once, a torn last line dropped, a holding's end
 * waiting for every coin accepted before it. On PGlite, the database the journal is for.
 */
import fs, { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Db, migrate, openDatabase } from '@netpay/db';
import { openTestDatabase } from '@netpay/db/testing';
import {
  ChainTraversal,
  type IndexMessage,
  randomBytes,
  type Touchstone,
  toBase64url,
} from '@netpay/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { merged } from './behind.ts';
import { openJournal, replay, segments } from './journal.ts';
import type { Advance } from './round.ts';
import { createChainStore, VENDOR_MIGRATIONS } from './store.ts';

/** A chain of `n` coins worth 5 each: its touchstone (only what the store reads) and its paywords. */
function chain(n: number) {
  const id = randomBytes(16);
  const { traversal, root } = ChainTraversal.create(randomBytes(32), id, n);
  const words = [root];
  for (let w = traversal.next(); w; w = traversal.next()) words.push(w.payword);
  const touchstone = { chainId: toBase64url(id), n, coinValue: '5' } as unknown as Touchstone;
  return { touchstone, words };
}

/** The advance paying coin `i` of `c` (one coin, from i − 1). */
const coin = (c: ReturnType<typeof chain>, i: number): Advance => ({
  chainId: c.touchstone.chainId,
  fromIndex: i - 1,
  fromPayword: c.words[i - 1]!,
  toIndex: i,
  payword: c.words[i]!,
  receipt: { index: i },
});

describe('the vendor journal [pglite]', () => {
  let dir: string;
  let db: Db;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netpay-journal-'));
    db = await openTestDatabase('pglite');
    await migrate(db, VENDOR_MIGRATIONS);
  });
  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('merges consecutive advances of a chain, but not those with payees', () => {
    const a = chain(5);
    const b = chain(5);
    const out = merged([coin(a, 1), coin(b, 1), coin(a, 2), coin(a, 3), { ...coin(b, 2), payees: '[]' }]);
    expect(
      out.map((x) => [
        x.chainId === a.touchstone.chainId ? 'a' : 'b',
        x.fromIndex,
        x.toIndex,
        x.payments ?? 1,
      ]),
    ).toEqual([
      ['a', 0, 3, 3],
      ['b', 0, 1, 1],
      ['b', 1, 2, 1],
    ]);
  });

  it('accepts coins through the journal; SQL has them, merged, before any reader; the journal is emptied', async () => {
    const path = join(dir, 'journal');
    const store = createChainStore({ db, journal: path });
    const c = chain(10);
    await store.hold(c.touchstone, { index: 0, payword: c.words[0]! });
    for (let i = 1; i <= 6; i++) expect(await store.commit(coin(c, i))).toBe(true);
    expect(await store.commit(coin(c, 3))).toBe(false); // spent already: refused in memory
    expect((await store.statement()).accepted).toBe('30');
    const [revenue] = await db.query<{ payments: bigint; amount: bigint }>(
      'SELECT payments, amount FROM vendor_revenue',
    );
    expect(revenue).toMatchObject({ payments: 6, amount: 30n });
    expect(replay(path)).toEqual([]); // in memory: dropped as soon as SQL has it
    await store.close();
  });

  it('keeps the journal files until the database is on disk (PGlite does not fsync), then drops them', async () => {
    const path = join(dir, 'journal');
    const dataDir = join(dir, 'data');
    const disk = await openDatabase({ dataDir });
    await migrate(disk, VENDOR_MIGRATIONS);
    const store = createChainStore({ db: disk, journal: path, databaseDir: dataDir });
    const c = chain(10);
    await store.hold(c.touchstone, { index: 0, payword: c.words[0]! });
    for (let i = 1; i <= 3; i++) expect(await store.commit(coin(c, i))).toBe(true);
    expect((await store.statement()).accepted).toBe('15');
    expect(replay(path).map((a) => a.toIndex)).toEqual([1, 2, 3]); // SQL has them, not yet on disk
    await store.close(); // a checkpoint: the database fsynced, the files dropped
    expect(replay(path)).toEqual([]);
    await disk.close();
  });

  it('writes behind and drains while payments never stop (the journal is never idle)', async () => {
    const path = join(dir, 'journal');
    const store = createChainStore({ db, journal: path });
    const c = chain(400);
    await store.hold(c.touchstone, { index: 0, payword: c.words[0]! });
    let i = 0;
    let paying = true;
    const payer = (async () => {
      while (paying && i < 400) expect(await store.commit(coin(c, ++i))).toBe(true);
    })();
    for (let k = 0; k < 5; k++) {
      const atLeast = i;
      const accepted = BigInt((await store.statement()).accepted);
      expect(accepted).toBeGreaterThanOrEqual(BigInt(atLeast * 5));
    }
    paying = false;
    await payer;
    expect((await store.statement()).accepted).toBe(String(i * 5));
    expect(segments(path).length).toBeLessThanOrEqual(2);
    await store.close();
  });

  it('recovers what a crash left in the journal once, and drops a torn last line', async () => {
    const path = join(dir, 'journal');
    const first = createChainStore({ db, journal: path });
    const c = chain(10);
    await first.hold(c.touchstone, { index: 0, payword: c.words[0]! });
    expect(await first.commit(coin(c, 1))).toBe(true);
    await first.close();
    // Coins 2–4 on disk but never written behind (the process died), then half a line.
    const journal = await openJournal(path);
    for (let i = 2; i <= 4; i++) await journal.append(coin(c, i));
    await journal.close();
    appendFileSync(segments(path).at(-1)!, '1a2b3c {"c":"torn');
    expect(replay(path).map((a) => a.toIndex)).toEqual([2, 3, 4]);
    const files = segments(path);
    const copies = files.map((f) => readFileSync(f));
    const second = createChainStore({ db, journal: path });
    expect((await second.get(c.touchstone.chainId))?.acceptedIndex).toBe(4);
    expect((await second.statement()).accepted).toBe('20');
    expect(await second.commit(coin(c, 5))).toBe(true);
    await second.close();
    // The same journal replayed again (a crash during recovery) changes nothing.
    for (const [k, f] of files.entries()) writeFileSync(f, copies[k]!);
    const third = createChainStore({ db, journal: path });
    expect((await third.statement()).accepted).toBe('25');
    await third.close();
  });

  it("keeps a P2P payment's evidence (the payer's paidIndex) through a crash, the latest for its claims", async () => {
    const path = join(dir, 'journal');
    const c = chain(10);
    const signed = (i: number) =>
      ({ chainId: c.touchstone.chainId, index: i, payword: toBase64url(c.words[i]!) }) as IndexMessage;
    const first = createChainStore({ db, journal: path });
    await first.hold(c.touchstone, { index: 0, payword: c.words[0]! }, signed(0));
    expect(await first.commit({ ...coin(c, 1), evidence: signed(1) })).toBe(true);
    await first.close();
    const journal = await openJournal(path);
    for (let i = 2; i <= 4; i++) await journal.append({ ...coin(c, i), evidence: signed(i) });
    await journal.close();
    expect(replay(path).map((a) => a.evidence?.index)).toEqual([2, 3, 4]);
    const second = createChainStore({ db, journal: path });
    const [held] = await second.unredeemed();
    expect(held).toMatchObject({ acceptedIndex: 4, startMessage: signed(0), endMessage: signed(4) });
    // A holding that ends leaves its range with both, for the claims made later.
    await second.release(c.touchstone.chainId);
    expect(await second.pendingRanges()).toMatchObject([
      { from_index: 0, to_index: 4, start_message: signed(0), end_message: signed(4) },
    ]);
    await second.close();
  });

  it('replays every complete group around one a crash tore, in order per chain', async () => {
    const path = join(dir, 'journal');
    const journal = await openJournal(path);
    const c = chain(10);
    await Promise.all([1, 2].map((i) => journal.append(coin(c, i)))); // one group
    await journal.close();
    const [file] = segments(path);
    const written = readFileSync(file!, 'utf8');
    // Groups go to disk side by side: one torn by a crash may lie before one that finished.
    const torn = written.slice(0, 30); // its first line cut short
    writeFileSync(file!, `${written}${torn}${written}`);
    expect(replay(path).map((a) => a.toIndex)).toEqual([1, 2, 1, 2]);
  });

  it('writes groups side by side and still answers each payment once its own group is on disk', async () => {
    const path = join(dir, 'journal');
    const journal = await openJournal(path);
    const chains = Array.from({ length: 40 }, () => chain(3));
    // Appends in different turns of the event loop: several groups, written at once.
    const paid: Promise<void>[] = [];
    for (const c of chains) {
      paid.push(journal.append(coin(c, 1)));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(paid);
    await journal.settled();
    const cut = await journal.cut();
    expect(cut.advances).toHaveLength(40);
    expect(new Set(replay(path).map((a) => a.chainId)).size).toBe(40);
    await journal.close();
  });

  it('ends a holding only once every coin accepted before is in SQL', async () => {
    const store = createChainStore({ db, journal: join(dir, 'journal') });
    const c = chain(10);
    await store.hold(c.touchstone, { index: 0, payword: c.words[0]! });
    store.setLease(c.touchstone.chainId, Date.now() + 60_000);
    // Three payments on their way to disk when the hand-over comes: it signs their end, not an earlier one.
    const paid = [1, 2, 3].map((i) => store.commit(coin(c, i)));
    const ended = await store.release(c.touchstone.chainId);
    expect(await Promise.all(paid)).toEqual([true, true, true]);
    expect(ended).toMatchObject({ acceptedIndex: 3, status: 'handed' });
    expect(await store.commit(coin(c, 4))).toBe(false); // handed on: nothing more is accepted
    await store.close();
  });

  it('fails every payment after a failed journal write, forgets no receipted coin, and starts again', async () => {
    const path = join(dir, 'journal');
    const store = createChainStore({ db, journal: path });
    const c = chain(10);
    await store.hold(c.touchstone, { index: 0, payword: c.words[0]! });
    expect(await store.commit(coin(c, 1))).toBe(true);
    // The disk fails: the journal's next write fails (fs's own export, replaced for this write).
    const write = fs.write;
    (fs as { write: unknown }).write = (...args: unknown[]) => {
      const callback = args.at(-1) as (e: Error) => void;
      process.nextTick(() => callback(Object.assign(new Error('disk failed (test)'), { code: 'EIO' })));
    };
    syncBuiltinESMExports();
    try {
      await expect(store.commit(coin(c, 2))).rejects.toThrow(/disk failed/);
    } finally {
      fs.write = write;
      syncBuiltinESMExports();
    }
    // Broken until restarted: the disk may hold part of a line.
    await expect(store.commit(coin(c, 2))).rejects.toThrow(/disk failed/);
    // The receipted coin 1 is still the chain's state, in memory and (drained) in SQL: it is not taken again.
    expect((await store.get(c.touchstone.chainId))?.acceptedIndex).toBe(1);
    expect(await store.commit(coin(c, 1))).toBe(false);
    expect((await store.statement()).accepted).toBe('5');
    // Started again over the same folder: coin 2 is accepted now.
    const again = createChainStore({ db, journal: path });
    expect((await again.get(c.touchstone.chainId))?.acceptedIndex).toBe(1); // as the gate reads it first
    expect(await again.commit(coin(c, 2))).toBe(true);
    expect((await again.statement()).accepted).toBe('10');
    await again.close();
  });
});
