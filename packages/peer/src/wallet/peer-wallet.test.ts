/**
 * The peer wallet's parts (docs/p2p.md §3): each carries the chain's touchstone and the payer's signed
 * index unless the seller took the chain's previous payment (`accepted`); a plain part then verifies from
 * the state that seller holds. A temp folder for the wallet file, a stand-in CIS that signs touchstones.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ChainState,
  createSigner,
  fromBase64url,
  type PaymentPart,
  randomBytes,
  signMessage,
  type Touchstone,
  verifyPayment,
} from '@netpay/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPeerWallet } from './peer-wallet.ts';

const NOW = 1_800_000_000;
const cis = createSigner(randomBytes(32));
const payer = createSigner(randomBytes(32));
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'netpay-peer-wallet-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function wallet() {
  const touchstones = new Map<string, Touchstone>();
  const w = await openPeerWallet({
    path: join(dir, 'wallet.json'),
    peerId: 'peer-payer',
    signer: payer,
    clock: () => NOW * 1000,
    buy: async (body) => ({
      chains: body.chains.map((c) => {
        const t = signMessage(
          'touchstone',
          {
            v: 1,
            chainId: c.chainId,
            root: c.root,
            n: c.n,
            coinValue: c.coinValue,
            currency: 'USD',
            exponent: 4,
            brokerId: 'cis',
            keyId: 'cis-1',
            issuedAt: NOW - 60,
            expiresAt: NOW + 86_400,
          },
          cis,
        ) as Touchstone;
        touchstones.set(c.chainId, t);
        return { chainId: c.chainId, touchstone: t };
      }),
    }),
  });
  const [chainId] = await w.buy(10n, 20);
  return { w, touchstone: touchstones.get(chainId!)! };
}

/** What a seller holds after taking `part`. */
const stateAfter = (part: PaymentPart): ChainState => ({
  chainId: part.chainId,
  index: part.index,
  payword: fromBase64url(part.payword)!,
});

/** The part checked from `state` as a seller checks it: its worth in minor units. */
function worth(state: ChainState, part: PaymentPart, t: Touchstone) {
  const r = verifyPayment(state, part, t, NOW);
  if (!r.ok) throw new Error(r.error.message);
  return r.value.amount;
}

describe('peer wallet parts', () => {
  it('proves the chain until the seller took its previous payment, then pays with plain parts', async () => {
    const { w, touchstone } = await wallet();
    const [p1] = (await w.pay('peer-a', 10n)).parts;
    expect(p1).toMatchObject({ index: 1, touchstone, lastIndex: { index: 0, handedTo: 'peer-a' } });
    // Not reported as taken: the next part proves the chain again.
    const [p2] = (await w.pay('peer-a', 10n)).parts;
    expect(p2!.lastIndex).toMatchObject({ index: 1, handedTo: 'peer-a' });
    w.accepted('peer-a', { parts: [p2!] });
    const [p3] = (await w.pay('peer-a', 10n)).parts;
    expect(p3).toEqual({ chainId: p1!.chainId, index: 3, payword: expect.any(String) });
    expect(worth(stateAfter(p2!), p3!, touchstone)).toBe(10n);
    w.accepted('peer-a', { parts: [p3!] });
    // A payment peer-a did not take (refused, lost): the next one proves the chain from where it now is.
    await w.pay('peer-a', 10n);
    const [p5] = (await w.pay('peer-a', 10n)).parts;
    expect(p5!.lastIndex).toMatchObject({ index: 4, handedTo: 'peer-a' });
    await w.close();
  });

  it('proves the chain again to a seller after another seller was paid from it', async () => {
    const { w, touchstone } = await wallet();
    const [p1] = (await w.pay('peer-a', 10n)).parts;
    w.accepted('peer-a', { parts: [p1!] });
    const [p2] = (await w.pay('peer-b', 10n)).parts;
    expect(p2!.lastIndex).toMatchObject({ index: 1, handedTo: 'peer-b' });
    w.accepted('peer-b', { parts: [p2!] });
    // peer-a holds the chain at 1, the chain is at 2: a plain part would be worth two coins there.
    const [p3] = (await w.pay('peer-a', 10n)).parts;
    expect(p3!.lastIndex).toMatchObject({ index: 2, handedTo: 'peer-a' });
    expect(worth(stateAfter(p1!), { ...p3!, touchstone: undefined, lastIndex: undefined }, touchstone)).toBe(
      20n,
    );
    w.accepted('peer-a', { parts: [p3!] });
    w.accepted('peer-a', { parts: [p1!] }); // late news of an earlier payment changes nothing
    const [p4] = (await w.pay('peer-a', 10n)).parts;
    expect(p4!.lastIndex).toBeUndefined();
    expect(worth(stateAfter(p3!), p4!, touchstone)).toBe(10n);
    await w.close();
  });
});
