/**
 * The peer wallet's document on disk: a save is durable (the temporary file synced, renamed over the
 * document, then the folder synced, so a power loss cannot bring the old document back); a failed save is
 * a `wallet_storage` error that leaves the old document; a document from before `closed` still reads.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadDocument, type PeerWalletDocument, saveDocument } from './document.ts';

/** What the code under test asked of the file system, in order. */
const log = vi.hoisted(() => [] as string[]);

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    open: async (...args: Parameters<typeof fs.open>) => {
      const h = await fs.open(...args);
      const path = String(args[0]);
      log.push(`open ${path}`);
      const { sync, datasync } = h;
      h.sync = () => {
        log.push(`sync ${path}`);
        return sync.call(h);
      };
      h.datasync = () => {
        log.push(`datasync ${path}`);
        return datasync.call(h);
      };
      return h;
    },
    rename: (from: string, to: string) => {
      log.push(`rename ${from} ${to}`);
      return fs.rename(from, to);
    },
  };
});

const doc = (peerId: string): PeerWalletDocument => ({ format: 1, peerId, chains: [] });

describe('peer wallet document', () => {
  it('syncs the file, renames it over the document, then syncs the folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netpay-peer-doc-'));
    const path = join(dir, 'wallet.json');
    log.length = 0;
    await saveDocument(path, doc('p1'));
    expect(log).toEqual([
      `open ${path}.tmp`,
      `datasync ${path}.tmp`,
      `rename ${path}.tmp ${path}`,
      `open ${dir}`,
      `sync ${dir}`,
    ]);
    expect(await loadDocument(path)).toEqual(doc('p1'));
  });

  it('answers a wallet file that is not JSON with wallet_storage, not a crash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netpay-peer-doc-'));
    const path = join(dir, 'wallet.json');
    writeFileSync(path, '{"format": 1, "chains": [');
    await expect(loadDocument(path)).rejects.toMatchObject({ code: 'wallet_storage' });
  });

  it('answers a failed write with wallet_storage and leaves the old document', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netpay-peer-doc-'));
    const path = join(dir, 'wallet.json');
    await saveDocument(path, doc('p1'));
    mkdirSync(`${path}.tmp`);
    await expect(saveDocument(path, doc('p2'))).rejects.toMatchObject({ code: 'wallet_storage' });
    expect(await loadDocument(path)).toEqual(doc('p1'));
  });

  it('reads a chain written before a clean close was recorded as not closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netpay-peer-doc-'));
    const path = join(dir, 'wallet.json');
    const payword = 'A'.repeat(43);
    const chain = {
      chainId: 'A'.repeat(22),
      coinValue: '10',
      n: 5,
      seed: 'A'.repeat(43),
      root: payword,
      status: 'pending',
      buyKey: 'p2p-buy-x',
      touchstone: null,
      reserved: 0,
      lastPayword: payword,
      traversal: null,
      lastSeller: null,
      sellers: [],
    };
    writeFileSync(path, JSON.stringify({ format: 1, peerId: 'p1', chains: [chain] }));
    expect((await loadDocument(path))?.chains[0]).toEqual({ ...chain, closed: null });
  });
});
