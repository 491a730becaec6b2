import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TAB_HEADER } from '@netpay/api';
import { encodeHeader, HEADERS, type IndexMessage, type Payment, toBase64url } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientChain, startWorld, type World } from '../../broker/test/world.ts';
import { checkChains } from '../../gate/test/invariants.ts';
import { cisClient, ensureRegistered, peerIdentity } from '../src/cis.ts';
import { getFile } from '../src/get.ts';
import { type RunningPeer, startPeer } from '../src/peer.ts';
import { openPeerWallet } from '../src/wallet/peer-wallet.ts';
import { CHUNK, corrupting, fileBytes, ownChain, peerIndex, proxyTo, sha } from './fixtures.ts';

const tmp = (p: string) => mkdtempSync(join(tmpdir(), `netpay-p2p-${p}-`));

/** A file of `chunks` full chunks and a partial one in `dir`, its bytes from a seed. */
function makeFile(dir: string, name: string, chunks: number, seed: number) {
  const bytes = fileBytes(chunks, seed);
  writeFileSync(join(dir, name), bytes);
  return bytes;
}

describe('P2P-NetPay [pglite]', () => {
  let w: World;
  const peers: RunningPeer[] = [];
  const now = () => Math.floor(w.clock() / 1000);
  beforeAll(async () => {
    w = await startWorld('pglite', {
      config: { p2p: { currency: 'tokens', grant: '1000000', freeAllowance: '100000', supplyFactor: 2 } },
    });
  });
  afterAll(async () => {
    for (const p of peers) await p.close().catch(() => {});
    await w?.close();
  });

  async function peer(name: string, files: (dir: string) => void = () => {}, price = 10n, cisUrl = w.url) {
    const share = tmp(`${name}-share`);
    files(share);
    const p = await startPeer({
      share,
      cisUrl,
      price,
      dataDir: tmp(`${name}-data`),
      clock: w.clock,
      redeemEveryMs: 0,
    });
    peers.push(p);
    return p;
  }

  /** Coins the CIS credited to a seller's claims. */
  const credited = async (p: RunningPeer) => {
    const [row] = await p.vendor.db.query<{ coins: number }>(
      `SELECT COALESCE(sum(to_index - from_index), 0)::int AS coins FROM vendor_claims WHERE status = 'credited'`,
    );
    return row!.coins;
  };

  const offerOf = async (fileId: string) => (await w.call('GET', `/p2p/files/${fileId}`)).body;

  it('publishes, finds, downloads paying per chunk, and redeems', async () => {
    let bytes = Buffer.alloc(0);
    const seller = await peer('s1', (d) => {
      bytes = makeFile(d, 'song.ogg', 5, 1);
    });
    const buyerDir = tmp('b1-data');
    const found = await w.call('GET', '/p2p/search?q=SONG');
    expect(found.status).toBe(200);
    const offer = found.body.offers.find((o: { name: string }) => o.name === 'song.ogg');
    expect(offer).toMatchObject({ size: bytes.length, chunks: 6 });
    expect(offer.peers.map((p: { peerId: string }) => p.peerId)).toEqual([seller.peerId]);
    const out = join(tmp('b1-out'), 'song.ogg');
    const got = await getFile({
      fileId: offer.fileId,
      cisUrl: w.url,
      dataDir: buyerDir,
      out,
      clock: w.clock,
    });
    expect(sha(readFileSync(out))).toBe(sha(bytes));
    expect(got.spent).toBe(60n);
    expect(got.from).toEqual({ [seller.peerId]: 6 });
    const r = await seller.redeem();
    expect(r).toMatchObject({ credited: 1, rejected: 0, amount: '60' });
    expect(await credited(seller)).toBe(6);
    await w.audit();
    expect((await offerOf(offer.fileId)).peers).toHaveLength(1);
  });

  it('fetches from several sellers at once and resumes from the others when one goes away', async () => {
    let bytes = Buffer.alloc(0);
    const make = (d: string) => {
      bytes = makeFile(d, 'film.mkv', 23, 2);
    };
    const a = await peer('pa', make);
    const b = await peer('pb', make);
    const c = await peer('pc', make);
    const fileId = a.folder.list()[0]!.manifest.fileId;
    expect((await offerOf(fileId)).peers).toHaveLength(3);
    const out = join(tmp('b2-out'), 'film.mkv');
    let stopped = false;
    const got = await getFile({
      fileId,
      cisUrl: w.url,
      dataDir: tmp('b2-data'),
      out,
      clock: w.clock,
      onProgress: (p) => {
        // a seller goes away a third of the way through
        if (!stopped && p.chunks >= 8) {
          stopped = true;
          void a.app.close();
        }
      },
    });
    expect(sha(readFileSync(out))).toBe(sha(bytes));
    const fetched = Object.values(got.from).reduce((x, y) => x + y, 0);
    expect(fetched).toBe(24);
    // Paid for what arrived, give or take what was in flight at the seller that went away: at most one
    // paid chunk it never sent, at most its debt threshold (2) of chunks it sent ahead and was not paid for.
    expect(got.spent).toBeGreaterThanOrEqual(220n);
    expect(got.spent).toBeLessThanOrEqual(250n);
    expect(Object.keys(got.from).length).toBeGreaterThanOrEqual(2);
    let paid = 0;
    for (const p of [a, b, c]) {
      if (p !== a) expect((await p.redeem()).rejected).toBe(0);
      paid += await credited(p);
    }
    // b and c were paid for every chunk they sent; a (stopped) redeems later what it accepted
    expect(paid).toBeLessThanOrEqual(25);
    await w.audit();
  });

  it('detects a corrupted chunk, does not pay that seller again, and fetches the chunk elsewhere', async () => {
    let bytes = Buffer.alloc(0);
    const make = (d: string) => {
      bytes = makeFile(d, 'book.pdf', 7, 3);
    };
    const honest = await peer('ph', make);
    const liar = await peer('pl', make);
    // The liar's URL at the CIS is a proxy that flips a byte of every chunk it sells.
    const proxy = await corrupting(liar.url);
    await w.call('POST', '/parties', {
      signer: { id: liar.peerId, signer: liar.vendor.signer },
      body: {
        id: liar.peerId,
        kind: 'peer',
        name: liar.peerId,
        publicKey: Buffer.from(liar.vendor.signer.publicKey).toString('base64url'),
        url: proxy.url,
      },
    });
    const fileId = honest.folder.list()[0]!.manifest.fileId;
    const out = join(tmp('b3-out'), 'book.pdf');
    const dropped: string[] = [];
    const got = await getFile({
      fileId,
      cisUrl: w.url,
      dataDir: tmp('b3-data'),
      out,
      clock: w.clock,
      onDrop: (id, why) => dropped.push(`${id}: ${why}`),
    });
    await proxy.close();
    expect(sha(readFileSync(out))).toBe(sha(bytes));
    expect(dropped.join()).toContain(liar.peerId);
    expect(dropped.join()).toContain('does not match');
    expect(got.from[liar.peerId] ?? 0).toBe(0);
    expect(got.from[honest.peerId]).toBe(8);
    expect(got.spent).toBe(90n); // 8 good chunks and the one bad one
    await w.audit();
  });

  /** A peer that is not serving: its identity and signed CIS client, registered. */
  async function bare(name: string) {
    const id = peerIdentity(tmp(`${name}-data`));
    const cis = cisClient(w.url, id, w.clock);
    await ensureRegistered(cis, id, {});
    return { id, cis };
  }

  /** A bare peer's wallet, buying from the CIS as `netpay peer get` does. */
  const walletOf = (payer: Awaited<ReturnType<typeof bare>>) =>
    openPeerWallet({
      path: join(payer.id.dataDir, 'wallet.json'),
      peerId: payer.id.peerId,
      signer: payer.id.signer,
      buy: (body, key) => payer.cis.peerBuy({ body, key }),
      clock: w.clock,
    });

  it('catches a peer that spends the same coins at two sellers at once: both paid, the cheater charged back and frozen', async () => {
    const make = (d: string) => makeFile(d, 'game.iso', 2, 4);
    const s1 = await peer('ds1', make);
    const s2 = await peer('ds2', make);
    const s3 = await peer('ds3', make);
    const fileId = s1.folder.list()[0]!.manifest.fileId;
    const cheat = await bare('cheat');
    // The same stale index (nothing spent) shown to two sellers, the same coin paid to both.
    const chain = await ownChain(20, cheat.id, (body) => cheat.cis.peerBuy({ body }), now);
    const pay = chain.pay;
    const buy = (p: RunningPeer, payment: Payment) =>
      fetch(`${p.url}/p2p/files/${fileId}/chunks/0`, {
        headers: { [HEADERS.payment]: encodeHeader(payment) },
      });
    const [r1, r2] = await Promise.all([buy(s1, pay(s1.peerId, 0, 1)), buy(s2, pay(s2.peerId, 0, 1))]);
    expect([r1.status, r2.status]).toEqual([200, 200]); // offline: neither could know
    expect((await s1.redeem()).credited).toBe(1);
    expect((await s2.redeem()).credited).toBe(1);
    // Both sellers are paid; the cheater's coin account is charged back for the second payment, and frozen.
    expect(await credited(s1)).toBe(1);
    expect(await credited(s2)).toBe(1);
    const [cb] = await w.db.query<{ customer_id: string; coins: number }>(
      'SELECT customer_id, coins FROM charge_backs WHERE chain_id = $1',
      [chain.chainId],
    );
    expect(cb).toMatchObject({ customer_id: `peer:${cheat.id.peerId}`, coins: 1 });
    expect((await w.call('GET', `/parties/${cheat.id.peerId}`)).body.frozen).toBe(true);
    const honest = [s1, s2, s3].map((p) => `peer:${p.peerId}`);
    await checkChains(w, [chain.chainId], honest);
    // Frozen: other peers refuse its coins once they hear of it (every 10 s, or now), and the CIS sells it
    // no more.
    await s3.refreshFrozen();
    const r3 = await buy(s3, pay(s3.peerId, 1, 2));
    expect(r3.status).toBe(403);
    expect(((await r3.json()) as { code: string }).code).toBe('peer_frozen');
    const more = await cheat.cis
      .peerBuy({ body: { chains: [{ coinValue: '10', n: 5, ...twin(clientChain(5)) }] } })
      .catch((e: { code: string }) => e);
    expect(more).toMatchObject({ code: 'peer_frozen' });
  });

  it('serves a known payer up to its debt threshold ahead of payment, then cuts it off until it pays', async () => {
    const seller = await peer('debt', (d) => makeFile(d, 'album.flac', 9, 5));
    const fileId = seller.folder.list()[0]!.manifest.fileId;
    const wallet = await walletOf(await bare('debtor'));
    await wallet.buy(10n, 50);
    const chunk = async (k: number, o: { pay?: bigint; tab?: string }) => {
      const headers: Record<string, string> = {};
      if (o.pay) headers[HEADERS.payment] = encodeHeader(await wallet.pay(seller.peerId, o.pay));
      if (o.tab) headers[TAB_HEADER] = o.tab;
      return fetch(`${seller.url}/p2p/files/${fileId}/chunks/${k}`, { headers });
    };
    const first = await chunk(0, { pay: 10n });
    expect(first.status).toBe(200);
    const chainId = wallet.chains()[0]!.chainId;
    // A stranger's chain has no tab here.
    expect((await chunk(1, { tab: 'AAAAAAAAAAAAAAAAAAAAAA' })).status).toBe(402);
    // The default threshold: 4 chunks.
    for (const k of [1, 2, 3, 4]) expect((await chunk(k, { tab: chainId })).status).toBe(200);
    const cut = await chunk(5, { tab: chainId });
    expect(cut.status).toBe(402);
    expect(cut.headers.get('connection')).toBe('close');
    expect(((await cut.json()) as { code: string }).code).toBe('debt_limit');
    // Paying chunk 5 and the four on the tab opens it again; more than that is refused.
    expect((await chunk(5, { pay: 60n, tab: chainId })).status).toBe(402); // overpayment: the tab is 40
    const paid = await chunk(5, { pay: 50n, tab: chainId });
    expect(paid.status).toBe(200);
    expect((await chunk(6, { tab: chainId })).status).toBe(200);
    await wallet.close();
    expect((await seller.redeem()).rejected).toBe(0);
    // Coin 1 (chunk 0) and five (chunk 5 and the tab); the 6 coins of the refused overpayment were never taken.
    expect(await credited(seller)).toBe(6);
    await w.audit();
  });

  it('takes a payment made from two chains at once (a chain ran short)', async () => {
    const seller = await peer('two', (d) => makeFile(d, 'pair.bin', 1, 6), 20n);
    const fileId = seller.folder.list()[0]!.manifest.fileId;
    const wallet = await walletOf(await bare('two-chains'));
    await wallet.buy(10n, 1);
    await wallet.buy(10n, 1);
    const payment = await wallet.pay(seller.peerId, 20n);
    expect(payment.parts).toHaveLength(2);
    const r = await fetch(`${seller.url}/p2p/files/${fileId}/chunks/0`, {
      headers: { [HEADERS.payment]: encodeHeader(payment) },
    });
    expect(r.status, await r.clone().text()).toBe(200);
    await wallet.close();
    expect((await seller.redeem()).rejected).toBe(0);
    expect(await credited(seller)).toBe(2);
    await w.audit();
  });

  it('accepts a first payment with the CIS unreachable: touchstone, owner and indexes are checked offline', async () => {
    // The payer buys first: the CIS makes its signing key at its first purchase here (a real one at start).
    const payer = await bare('offline-payer');
    const chain = await ownChain(20, payer.id, (body) => payer.cis.peerBuy({ body }), now);
    const cis = await proxyTo(w.url);
    const seller = await peer('offline', (d) => makeFile(d, 'atlas.pdf', 2, 8), 10n, cis.url);
    const fileId = seller.folder.list()[0]!.manifest.fileId;
    expect(chain.touchstone).toMatchObject({
      owner: payer.id.peerId,
      ownerKey: toBase64url(payer.id.signer.publicKey),
    });
    cis.down = true; // from here on the seller cannot reach the CIS
    const buy = (payment: Payment) =>
      fetch(`${seller.url}/p2p/files/${fileId}/chunks/0`, {
        headers: { [HEADERS.payment]: encodeHeader(payment) },
      });
    const first = await buy(chain.pay(seller.peerId, 0, 1));
    expect(first.status, await first.clone().text()).toBe(200);
    const second = await buy(chain.pay(seller.peerId, 1, 2));
    expect(second.status, await second.clone().text()).toBe(200);
    // Redeemed once the CIS is back: every coin, with the payer's indexes as its evidence.
    cis.down = false;
    expect((await seller.redeem()).rejected).toBe(0);
    expect(await credited(seller)).toBe(2);
    await cis.close();
    await w.audit();
  });

  it("refuses a payer's index signed by anyone but the chain's owner, and chains no peer bought", async () => {
    const seller = await peer('owner', (d) => makeFile(d, 'map.tif', 1, 7));
    const fileId = seller.folder.list()[0]!.manifest.fileId;
    const owner = await bare('owner-y');
    const other = await bare('owner-x');
    const chain = clientChain(5);
    const bought = await owner.cis.peerBuy({
      body: { chains: [{ coinValue: '10', n: 5, chainId: chain.chainId, root: chain.root }] },
    });
    const w1 = chain.traversal.next()!.payword;
    const paidBy = (signer: { peerId: string; signer: typeof owner.id.signer }, to = seller.peerId) =>
      peerIndex(signer, chain.chainId, { index: 1, payword: toBase64url(w1) }, to, now());
    const pay = (
      signer: { peerId: string; signer: typeof owner.id.signer },
      paidIndex: IndexMessage | null = paidBy(signer),
    ) =>
      fetch(`${seller.url}/p2p/files/${fileId}/chunks/0`, {
        headers: {
          [HEADERS.payment]: encodeHeader({
            v: 1,
            parts: [
              {
                chainId: chain.chainId,
                index: 1,
                payword: toBase64url(w1),
                touchstone: bought.chains[0]!.touchstone,
                lastIndex: peerIndex(
                  signer,
                  chain.chainId,
                  { index: 0, payword: chain.root },
                  seller.peerId,
                  now(),
                ),
                ...(paidIndex ? { paidIndex } : {}),
              },
            ],
          }),
        },
      });
    // Another pseudonym's index: the CIS would never credit the seller for it, so the seller sells nothing.
    const forged = await pay(other.id);
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { code: string }).code).toBe('bad_signature');
    // Every part carries the owner's index at its own point, handed to this seller: the seller's evidence
    // at redemption that the owner paid it this far. Without it, or with one that proves nothing, no sale.
    const atZero = peerIndex(
      owner.id,
      chain.chainId,
      { index: 0, payword: chain.root },
      seller.peerId,
      now(),
    );
    const badPaid: [IndexMessage | null, number, string][] = [
      [null, 400, 'malformed'],
      [atZero, 400, 'malformed'],
      [paidBy(owner.id, other.id.peerId), 403, 'wrong_recipient'],
      [paidBy(other.id), 403, 'bad_signature'],
    ];
    for (const [paidIndex, status, code] of badPaid) {
      const r = await pay(owner.id, paidIndex);
      expect([r.status, ((await r.json()) as { code: string }).code]).toEqual([status, code]);
    }
    // The owner's own index is taken.
    expect((await pay(owner.id)).status).toBe(200);
    // A chain a customer bought (not a P2P chain) is refused.
    const alice = await w.newCustomer('p2p-customer', 1_000_000n, 100_000n);
    const c2 = clientChain(5);
    const r = await w.call('POST', '/me/chains', {
      token: alice.token,
      body: { chains: [{ coinValue: '10', n: 5, chainId: c2.chainId, root: c2.root }] },
    });
    expect(r.status).toBe(201);
    const c2w1 = { index: 1, payword: toBase64url(c2.traversal.next()!.payword) };
    const res = await fetch(`${seller.url}/p2p/files/${fileId}/chunks/0`, {
      headers: {
        [HEADERS.payment]: encodeHeader({
          v: 1,
          parts: [
            {
              chainId: c2.chainId,
              ...c2w1,
              touchstone: r.body.chains[0].touchstone,
              lastIndex: peerIndex(
                owner.id,
                c2.chainId,
                { index: 0, payword: c2.root },
                seller.peerId,
                now(),
              ),
              paidIndex: peerIndex(owner.id, c2.chainId, c2w1, seller.peerId, now()),
            },
          ],
        }),
      },
    });
    expect(res.status).toBe(402);
    expect(((await res.json()) as { code: string }).code).toBe('chain_unknown');
    expect((await seller.redeem()).rejected).toBe(0);
    await w.audit();
  });

  it('resumes a download from its .part file, fetching again every chunk there that does not match', async () => {
    let bytes = Buffer.alloc(0);
    const seller = await peer('resume', (d) => {
      bytes = makeFile(d, 'notes.txt', 3, 8);
    });
    const fileId = seller.folder.list()[0]!.manifest.fileId;
    const out = join(tmp('resume-out'), 'notes.txt');
    // A download that stopped: chunks 0 and 1 recorded, but chunk 1 damaged on disk; nonsense listed too.
    const part = Buffer.from(bytes);
    part[CHUNK + 5] = part[CHUNK + 5]! ^ 0xff;
    writeFileSync(`${out}.part`, part);
    writeFileSync(`${out}.part.json`, JSON.stringify({ fileId, done: [0, 1, 7, -1, 2.5] }));
    const got = await getFile({ fileId, cisUrl: w.url, dataDir: tmp('resume-data'), out, clock: w.clock });
    expect(sha(readFileSync(out))).toBe(sha(bytes));
    expect(got.from).toEqual({ [seller.peerId]: 3 }); // chunks 1, 2, 3: not 0
    expect(got.spent).toBe(30n);
  });

  it('limits a free rider: it may buy up to its allowance, which grows only with what it supplies', async () => {
    const rider = await bare('rider');
    const buy = (n: number) =>
      rider.cis
        .peerBuy({ body: { chains: [{ coinValue: '10', n, ...twin(clientChain(n)) }] } })
        .then(() => 'bought')
        .catch((e: { code: string }) => e.code);
    expect(await buy(10_000)).toBe('bought'); // 100,000: the whole free allowance
    expect(await buy(1)).toBe('fairness_limit');
    const status = await rider.cis.peerStatus({});
    expect(status).toMatchObject({ supply: '0', demand: '100000', allowance: '100000', remaining: '0' });
    await w.audit();
  });
});

const twin = (c: { chainId: string; root: string }) => ({ chainId: c.chainId, root: c.root });
