/**
 * The peer wallet (docs/p2p.md §3) against a real CIS (the broker on loopback, PGlite): each part carries
 * the chain's touchstone and the payer's signed index unless the seller took the chain's previous payment
 * (`accepted`), when a plain part verifies from the state that seller holds; a chain that moved on to
 * another seller never goes back to the first; nothing handed out survives a reopen (clean or after a
 * crash) or a failed write to be handed out again; a refused purchase is dropped; a download killed leaves
 * a lock the next one takes over.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ChainState,
  fromBase64url,
  NetPayError,
  type PaymentPart,
  type Touchstone,
  verifyPayment,
} from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../../broker/test/world.ts';
import { cisClient, ensureRegistered, peerIdentity } from '../src/cis.ts';
import { withWallet } from '../src/get.ts';
import { type BuyChains, openPeerWallet } from '../src/wallet/peer-wallet.ts';

describe('peer wallet [pglite]', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld('pglite', { config: { p2p: { currency: 'tokens', grant: '1000000' } } });
  });
  afterAll(async () => {
    await w?.close();
  });

  /** A registered peer's wallet with one chain of `n` coins of 10 (bought at the CIS). */
  async function wallet(n = 100) {
    const dataDir = mkdtempSync(join(tmpdir(), 'netpay-peer-wallet-'));
    const id = peerIdentity(dataDir);
    const cis = cisClient(w.url, id, w.clock);
    await ensureRegistered(cis, id, {});
    const path = join(dataDir, 'wallet.json');
    const open = (buy: BuyChains = (body, key) => cis.peerBuy({ body, key })) =>
      openPeerWallet({ path, peerId: id.peerId, signer: id.signer, buy, clock: w.clock });
    const wl = await open();
    await wl.buy(10n, n);
    const touchstone = (p: PaymentPart) => p.touchstone as Touchstone;
    return { w: wl, open, touchstone, path };
  }

  /** The index of the one part of a payment. */
  const indexOf = async (p: Promise<{ parts: PaymentPart[] }>) => (await p).parts[0]!.index;

  /** What a seller holds after taking `part`. */
  const stateAfter = (part: PaymentPart): ChainState => ({
    chainId: part.chainId,
    index: part.index,
    payword: fromBase64url(part.payword)!,
  });

  /** The part checked from `state` as a seller checks it: its worth in minor units. */
  function worth(state: ChainState, part: PaymentPart, t: Touchstone) {
    const r = verifyPayment(state, part, t, Math.floor(w.clock() / 1000));
    if (!r.ok) throw new Error(r.error.message);
    return r.value.amount;
  }

  it('proves the chain until the seller took its previous payment, then pays with plain parts', async () => {
    const { w: wl, touchstone } = await wallet();
    const [p1] = (await wl.pay('peer-a', 10n)).parts;
    expect(p1).toMatchObject({ index: 1, lastIndex: { index: 0, handedTo: 'peer-a' } });
    const t = touchstone(p1!);
    // Not reported as taken: the next part proves the chain again.
    const [p2] = (await wl.pay('peer-a', 10n)).parts;
    expect(p2!.lastIndex).toMatchObject({ index: 1, handedTo: 'peer-a' });
    wl.accepted('peer-a', { parts: [p2!] });
    const [p3] = (await wl.pay('peer-a', 10n)).parts;
    // Plain: no touchstone, no lastIndex; only this peer's signed index at the part's own point.
    expect(p3).toEqual({
      chainId: p1!.chainId,
      index: 3,
      payword: p3!.payword,
      paidIndex: expect.objectContaining({ index: 3, payword: p3!.payword, handedTo: 'peer-a' }),
    });
    expect(worth(stateAfter(p2!), p3!, t)).toBe(10n);
    wl.accepted('peer-a', { parts: [p3!] });
    // A payment peer-a did not take (refused, lost): the next one proves the chain from where it now is.
    await wl.pay('peer-a', 10n);
    const [p5] = (await wl.pay('peer-a', 10n)).parts;
    expect(p5!.lastIndex).toMatchObject({ index: 4, handedTo: 'peer-a' });
    await wl.close();
  });

  it('never takes a chain back to a seller it left, even after a restart', async () => {
    const { w: wl, open } = await wallet();
    const [p1] = (await wl.pay('peer-a', 10n)).parts;
    wl.accepted('peer-a', { parts: [p1!] });
    const [p2] = (await wl.pay('peer-b', 10n)).parts;
    expect(p2).toMatchObject({ chainId: p1!.chainId, lastIndex: { index: 1, handedTo: 'peer-b' } });
    // Back at peer-a the index would show it W(2), spent at peer-b: peer-a could claim it from index 0.
    await expect(wl.pay('peer-a', 10n)).rejects.toMatchObject({ code: 'insufficient_coins' });
    await wl.close();
    const again = await open();
    await expect(again.pay('peer-a', 10n)).rejects.toMatchObject({ code: 'insufficient_coins' });
    // peer-b may go on; peer-a gets a chain of its own.
    expect((await again.pay('peer-b', 10n)).parts[0]!.chainId).toBe(p1!.chainId);
    const [fresh] = await again.buy(10n, 5);
    const [p3] = (await again.pay('peer-a', 10n)).parts;
    expect(p3).toMatchObject({ chainId: fresh, index: 1, lastIndex: { index: 0, handedTo: 'peer-a' } });
    await again.close();
  });

  it('goes on where a clean close left a chain; after a crash, past every coin it had reserved', async () => {
    const { w: wl, open, touchstone } = await wallet();
    const sent: PaymentPart[] = [];
    for (let k = 0; k < 3; k++) sent.push((await wl.pay('peer-a', 10n)).parts[0]!);
    await wl.close();
    await expect(wl.pay('peer-a', 10n)).rejects.toMatchObject({ code: 'wallet_closed' });
    const again = await open();
    const [p4] = (await again.pay('peer-a', 10n)).parts;
    expect(p4).toMatchObject({ chainId: sent[0]!.chainId, index: 4, lastIndex: { index: 3 } });
    expect(worth(stateAfter(sent[2]!), p4!, touchstone(sent[0]!))).toBe(10n);
    // `again` is dropped without a close (a crash): the batch W(4) … W(64) was written down before p4
    // left, and all of it counts as spent.
    const third = await open();
    const [p5] = (await third.pay('peer-a', 10n)).parts;
    expect(p5).toMatchObject({ chainId: sent[0]!.chainId, index: 65, lastIndex: { index: 64 } });
    await third.close();
  });

  it('hands out nothing of a batch whose write failed: no payword leaves twice across a crash', async () => {
    const { w: wl, open, path } = await wallet(1000);
    const sent = [await indexOf(wl.pay('peer-a', 10n)), await indexOf(wl.pay('peer-a', 630n))];
    expect(sent).toEqual([1, 64]);
    // The next batch cannot be written: the wallet's temporary file is a folder.
    mkdirSync(`${path}.tmp`);
    await expect(wl.pay('peer-a', 10n)).rejects.toMatchObject({ code: 'wallet_storage' });
    rmdirSync(`${path}.tmp`);
    // Writing works again, and so does paying: the batch is written down before W(65) leaves.
    sent.push(await indexOf(wl.pay('peer-a', 10n)));
    expect(sent.at(-1)).toBe(65);
    // A crash (no close): the reopened wallet goes on past everything handed out.
    const again = await open();
    expect(await indexOf(again.pay('peer-a', 10n))).toBe(129);
    await again.close();
  });

  it('shows a chain to no new seller whose write failed: after a crash it still never goes back', async () => {
    const { w: wl, open, path } = await wallet();
    const [p1] = (await wl.pay('peer-a', 10n)).parts;
    mkdirSync(`${path}.tmp`);
    await expect(wl.pay('peer-b', 10n)).rejects.toMatchObject({ code: 'wallet_storage' });
    rmdirSync(`${path}.tmp`);
    const [p2] = (await wl.pay('peer-b', 10n)).parts;
    // Nothing was taken by the failed payment.
    expect(p2).toMatchObject({ chainId: p1!.chainId, index: 2, lastIndex: { index: 1, handedTo: 'peer-b' } });
    const again = await open();
    await expect(again.pay('peer-a', 10n)).rejects.toMatchObject({ code: 'insufficient_coins' });
    await again.close();
  });

  it('drops a purchase the CIS refuses, at once or when an open asks again, and pays on', async () => {
    const { w: wl, open, path } = await wallet();
    // Past the free allowance (100,000): refused, nothing sold.
    await expect(wl.buy(10n, 20_000)).rejects.toMatchObject({ code: 'fairness_limit' });
    expect(wl.chains()).toHaveLength(1);
    await wl.close();
    // A purchase whose answer is lost stays pending; the next open asks again, is refused, and opens.
    const lost = await open(async () => {
      throw new NetPayError('unreachable', 'cannot reach the CIS', {
        status: 503,
        details: { reason: 'network' },
      });
    });
    await expect(lost.buy(10n, 20_000)).rejects.toMatchObject({ code: 'unreachable' });
    expect(JSON.parse(readFileSync(path, 'utf8')).chains).toHaveLength(2);
    const again = await open();
    expect(again.chains()).toHaveLength(1);
    expect(await indexOf(again.pay('peer-a', 10n))).toBe(1);
    await again.close();
    expect(JSON.parse(readFileSync(path, 'utf8')).chains).toHaveLength(1);
  });
});

describe('the wallet lock of `netpay peer get`', () => {
  const running = async () => {
    await sleep(50);
    return 'ran';
  };

  it('is taken over, by one download only, when the process that left it is gone', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'netpay-peer-lock-'));
    const lock = join(dataDir, 'wallet.lock');
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(lock, String(gone));
    const both = await Promise.allSettled([withWallet(dataDir, running), withWallet(dataDir, running)]);
    expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(both.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'wallet_busy' } });
    expect(existsSync(lock)).toBe(false);
  });

  it('is refused while the process in it runs', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'netpay-peer-lock-'));
    const lock = join(dataDir, 'wallet.lock');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      writeFileSync(lock, String(child.pid));
      await expect(withWallet(dataDir, running)).rejects.toMatchObject({
        code: 'wallet_busy',
        message: expect.stringContaining(`process ${child.pid}`),
      });
      expect(readFileSync(lock, 'utf8')).toBe(String(child.pid));
    } finally {
      child.kill();
      await once(child, 'exit');
    }
    expect(await withWallet(dataDir, running)).toBe('ran');
  });
});
