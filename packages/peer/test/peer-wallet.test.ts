/**
 * The peer wallet (docs/p2p.md §3) against a real CIS (the broker on loopback, PGlite): each part carries
 * the chain's touchstone and the payer's signed index unless the seller took the chain's previous payment
 * (`accepted`), when a plain part verifies from the state that seller holds; a chain that moved on to
 * another seller never goes back to the first; nothing handed out survives a reopen to be handed out again.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ChainState,
  fromBase64url,
  type PaymentPart,
  type Touchstone,
  verifyPayment,
} from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../../broker/test/world.ts';
import { cisClient, ensureRegistered, peerIdentity } from '../src/cis.ts';
import { openPeerWallet } from '../src/wallet/peer-wallet.ts';

describe('peer wallet [pglite]', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld('pglite', { config: { p2p: { currency: 'tokens', grant: '1000000' } } });
  });
  afterAll(async () => {
    await w?.close();
  });

  /** A registered peer's wallet with one chain of 100 coins of 10 (bought at the CIS). */
  async function wallet(dataDir = mkdtempSync(join(tmpdir(), 'netpay-peer-wallet-'))) {
    const id = peerIdentity(dataDir);
    const cis = cisClient(w.url, id, w.clock);
    await ensureRegistered(cis, id, {});
    const open = () =>
      openPeerWallet({
        path: join(dataDir, 'wallet.json'),
        peerId: id.peerId,
        signer: id.signer,
        buy: (body, key) => cis.peerBuy({ body, key }),
        clock: w.clock,
      });
    const wl = await open();
    await wl.buy(10n, 100);
    const touchstone = (p: PaymentPart) => p.touchstone as Touchstone;
    return { w: wl, open, touchstone };
  }

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
    expect(p3).toEqual({ chainId: p1!.chainId, index: 3, payword: expect.any(String) });
    expect(worth(stateAfter(p2!), p3!, t)).toBe(10n);
    wl.accepted('peer-a', { parts: [p3!] });
    // A payment peer-a did not take (refused, lost): the next one proves the chain from where it now is.
    await wl.pay('peer-a', 10n);
    const [p5] = (await wl.pay('peer-a', 10n)).parts;
    expect(p5!.lastIndex).toMatchObject({ index: 4, handedTo: 'peer-a' });
    await wl.close();
  });

  it('never takes a chain back to a seller it left, even after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'netpay-peer-wallet-'));
    const { w: wl, open } = await wallet(dataDir);
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

  it('hands out no payword twice across a reopen: coins reserved before a stop count as spent', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'netpay-peer-wallet-'));
    const { w: wl, open } = await wallet(dataDir);
    const [p1] = (await wl.pay('peer-a', 10n)).parts;
    await wl.close();
    const again = await open();
    const [p2] = (await again.pay('peer-a', 10n)).parts;
    expect(p2!.chainId).toBe(p1!.chainId);
    // The first batch of 64 paywords was written down before p1 left: after the reopen they count as spent.
    expect(p1!.index).toBe(1);
    expect(p2).toMatchObject({ index: 65, lastIndex: { index: 64 } });
    await again.close();
  });
});
