/**
 * The broker as the CIS (docs/p2p.md §2–§5), over HTTP as peers call it: a peer's coin account opened at
 * registration (granted in tokens mode), the file index, fairness, buying from earnings, redemption of
 * coins a peer accepted offline from the payer's signed index, and the freeze of a peer that spent coins
 * twice. The ledger audit runs after every case.
 */
import { migrate } from '@netpay/db';
import { openTestDatabase, TEST_DATABASES } from '@netpay/db/testing';
import {
  type Claim,
  createSigner,
  type Ed25519Signer,
  randomBytes,
  signMessage,
  toBase64url,
} from '@netpay/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NO_PASSWORD } from '../src/accounts/peer.ts';
import { BROKER_MIGRATIONS } from '../src/migrations.ts';
import { ADMIN, clientChain, freshKey, startWorld, type World } from './world.ts';

interface Peer {
  readonly id: string;
  readonly signer: Ed25519Signer;
}

let counter = 0;

/** Registers a peer (kind "peer"), reachable at a URL unless told otherwise. */
async function newPeer(w: World, o: { url?: string | null } = {}): Promise<Peer> {
  const signer = createSigner(randomBytes(32));
  const id = `peer-${++counter}-${toBase64url(randomBytes(6))}`;
  const url = o.url === undefined ? `http://127.0.0.1:1/${id}` : o.url;
  const r = await w.call('POST', '/parties', {
    signer: { id, signer },
    body: {
      id,
      kind: 'peer',
      name: `Peer ${id}`,
      publicKey: toBase64url(signer.publicKey),
      ...(url ? { url } : {}),
    },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id, signer };
}

const as = (p: Peer) => ({ id: p.id, signer: p.signer });
const nowS = (w: World) => Math.floor(w.clock() / 1000);

/** A chain the peer buys for its wallet, with every payword kept (index 0 is the root). */
async function buyChain(w: World, p: Peer, n: number, coinValue = '10') {
  const c = clientChain(n);
  const r = await w.call('POST', '/p2p/chains', {
    signer: as(p),
    body: { chains: [{ coinValue, n, chainId: c.chainId, root: c.root }] },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const words: Uint8Array[] = [new Uint8Array(Buffer.from(c.root, 'base64url'))];
  for (let i = 1; i <= n; i++) words.push(c.traversal.next()!.payword);
  return { chainId: c.chainId, words, touchstone: r.body.chains[0].touchstone };
}
type Chain = Awaited<ReturnType<typeof buyChain>>;

/**
 * An index at `i` signed by `by` as `vendorId`, handed to `to`: what a payer's payment part carries as
 * lastIndex (its payword W(i), unless another is given).
 */
const indexAt = (
  w: World,
  by: Peer,
  vendorId: string,
  c: Chain,
  i: number,
  to: string | null,
  payword = c.words[i]!,
) =>
  signMessage(
    'index',
    {
      v: 1,
      chainId: c.chainId,
      index: i,
      payword: toBase64url(payword),
      vendorId,
      handedTo: to,
      issuedAt: nowS(w),
    },
    by.signer,
  );

/** A claim by `p` of coins (from, to] of the chain, with extra fields (startIndex). */
function claimOf(w: World, p: Peer, c: Chain, from: number, to: number, extra: Partial<Claim> = {}): Claim {
  return signMessage(
    'claim',
    {
      v: 1,
      claimId: toBase64url(randomBytes(16)),
      vendorId: p.id,
      chainId: c.chainId,
      from: { index: from, payword: toBase64url(c.words[from]!) },
      to: { index: to, payword: toBase64url(c.words[to]!) },
      issuedAt: nowS(w),
      ...extra,
    },
    p.signer,
  );
}

async function redeem(w: World, p: Peer, claims: Claim[]) {
  const r = await w.call('POST', '/redemptions', { signer: as(p), body: { claims } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.results as { status: string; code?: string; amount?: string }[];
}

const me = async (w: World, p: Peer) => (await w.call('GET', '/p2p/me', { signer: as(p) })).body;
const fileId = () => toBase64url(randomBytes(32));

for (const kind of TEST_DATABASES) {
  describe(`the CIS in tokens mode [${kind}]`, () => {
    let w: World;
    beforeAll(async () => {
      w = await startWorld(kind, {
        config: {
          feeBasisPoints: 200,
          p2p: { currency: 'tokens', grant: '1000', freeAllowance: '1000', supplyFactor: 2 },
        },
      });
    });
    afterAll(() => w?.close());
    afterEach(() => w.audit());

    it("opens a peer's coin account with its grant at first registration, which nobody signs in to", async () => {
      const before = await w.audit();
      const p = await newPeer(w);
      expect(await me(w, p)).toEqual({
        peerId: p.id,
        balance: '1000',
        earnings: '0',
        supply: '0',
        demand: '0',
        ratio: null,
        allowance: '1000',
        remaining: '1000',
        frozen: false,
      });
      const after = await w.audit();
      expect(BigInt(after.grants) - BigInt(before.grants)).toBe(1000n);
      expect(BigInt(after.totals.bank) - BigInt(before.totals.bank)).toBe(-1000n);
      // Registering again (a new name, say) grants nothing more.
      const again = await w.call('POST', '/parties', {
        signer: as(p),
        body: { id: p.id, kind: 'peer', name: 'renamed', publicKey: toBase64url(p.signer.publicKey) },
      });
      expect(again.status).toBe(201);
      expect((await me(w, p)).balance).toBe('1000');
      expect((await w.audit()).grants).toBe(after.grants);
      expect((await w.call('GET', `/parties/${p.id}`)).body).toMatchObject({ kind: 'peer', frozen: false });
      // The coin account's login is no login: signing in as it fails like a wrong password.
      const signin = await w.call('POST', '/sessions', {
        body: { login: `peer:${p.id}`, password: 'correct horse battery' },
      });
      expect(signin.status).toBe(401);
      expect(signin.body.code).toBe('invalid_credentials');
    });

    it("answers a vendor at a peer's endpoints with not_a_peer", async () => {
      const v = await w.newVendor();
      expect((await w.call('GET', '/p2p/me', { signer: w.asVendor(v) })).body.code).toBe('not_a_peer');
      const put = await w.call('PUT', '/p2p/files', { signer: w.asVendor(v), body: { files: [] } });
      expect([put.status, put.body.code]).toEqual([403, 'not_a_peer']);
      const c = clientChain(5);
      const buy = await w.call('POST', '/p2p/chains', {
        signer: w.asVendor(v),
        body: { chains: [{ coinValue: '10', n: 5, chainId: c.chainId, root: c.root }] },
      });
      expect([buy.status, buy.body.code]).toEqual([403, 'not_a_peer']);
      expect((await w.call('GET', '/p2p/me')).body.code).toBe('signature_missing');
    });

    it('publishes, searches and shows files: most peers first, unreachable peers left out', async () => {
      const [s1, s2, s3] = [await newPeer(w), await newPeer(w), await newPeer(w, { url: null })];
      const iso = fileId();
      const photos = fileId();
      const entry = (id: string, name: string, price = '2') => ({
        fileId: id,
        name,
        size: 600_000,
        chunkSize: 262_144,
        price,
      });
      const key = freshKey();
      const put = (p: Peer, files: unknown[], k = freshKey()) =>
        w.call('PUT', '/p2p/files', { signer: as(p), body: { files }, key: k });
      const first = await put(
        s1,
        [entry(iso, 'Ubuntu 24.04 ISO', '3'), entry(photos, 'Holiday photos')],
        key,
      );
      expect([first.status, first.body]).toEqual([200, { files: 2 }]);
      const replay = await put(
        s1,
        [entry(iso, 'Ubuntu 24.04 ISO', '3'), entry(photos, 'Holiday photos')],
        key,
      );
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect((await put(s2, [entry(iso, 'ubuntu-24.04.iso')])).status).toBe(200);
      expect((await put(s3, [entry(iso, 'Ubuntu 24.04 ISO')])).status).toBe(200);

      const found = await w.call('GET', '/p2p/search?q=UBUNTU%20iso');
      expect(found.status).toBe(200);
      const offers = found.body.offers.filter((o: { fileId: string }) => o.fileId === iso);
      expect(offers).toEqual([
        {
          fileId: iso,
          name: expect.any(String),
          size: 600_000,
          chunkSize: 262_144,
          chunks: 3,
          peers: [
            { peerId: s2.id, url: `http://127.0.0.1:1/${s2.id}`, price: '2', ratio: null },
            { peerId: s1.id, url: `http://127.0.0.1:1/${s1.id}`, price: '3', ratio: null },
          ],
        },
      ]);
      // Both files hold an "o": the one two peers offer comes first; limit cuts the list.
      const both = await w.call('GET', `/p2p/search?q=o`);
      const ids = both.body.offers.map((o: { fileId: string }) => o.fileId);
      expect(ids.indexOf(iso)).toBeLessThan(ids.indexOf(photos));
      expect((await w.call('GET', '/p2p/search?q=o&limit=1')).body.offers).toHaveLength(1);
      expect((await w.call('GET', `/p2p/files/${photos}`)).body).toMatchObject({
        fileId: photos,
        name: 'Holiday photos',
        peers: [{ peerId: s1.id, price: '2' }],
      });
      const missing = await w.call('GET', `/p2p/files/${fileId()}`);
      expect([missing.status, missing.body.code]).toEqual([404, 'file_not_found']);
      // A file only an unreachable peer offers is not found.
      const hidden = fileId();
      await put(s3, [entry(hidden, 'hidden')]);
      expect((await w.call('GET', `/p2p/files/${hidden}`)).status).toBe(404);
      // A new list replaces the old one.
      expect((await put(s1, [])).body).toEqual({ files: 0 });
      expect((await w.call('GET', `/p2p/files/${photos}`)).status).toBe(404);
    });

    it('refuses bad lists and searches, changing nothing', async () => {
      const p = await newPeer(w);
      const id = fileId();
      const ok = { fileId: id, name: 'a file', size: 1, chunkSize: 262_144, price: '1' };
      await w.call('PUT', '/p2p/files', { signer: as(p), body: { files: [ok] } });
      for (const files of [
        [{ ...ok, name: 'a/b' }],
        [{ ...ok, chunkSize: 1024 }],
        [{ ...ok, name: '' }],
        [ok, { ...ok, name: 'twice' }],
        [{ ...ok, fileId: 'short' }],
        [{ ...ok, price: 1 }],
        [{ ...ok, size: -1 }],
      ]) {
        const r = await w.call('PUT', '/p2p/files', { signer: as(p), body: { files } });
        expect([r.status, r.body.code], JSON.stringify(files)).toEqual([400, 'bad_request']);
      }
      // A control character in any string is refused before the route's schema (docs/broker.md §3).
      const nul = { files: [{ ...ok, name: 'nul\u0000here' }] };
      const refused = await w.call('PUT', '/p2p/files', { signer: as(p), body: nul });
      expect([refused.status, refused.body.code]).toEqual([400, 'invalid_characters']);
      expect((await w.call('GET', `/p2p/files/${id}`)).body.name).toBe('a file');
      for (const q of ['', 'q=', 'q=%20', 'q=x&limit=0', 'q=x&limit=101', 'q=x&other=1']) {
        expect((await w.call('GET', `/p2p/search?${q}`)).status, q).toBe(400);
      }
    });

    it('limits purchases by the allowance that grows with supply, and pays from earnings when the balance is short', async () => {
      const q = await newPeer(w);
      const r = await newPeer(w);
      // R may buy 1000 before it supplies anything: 1050 is refused and changes nothing.
      const tooMuch = clientChain(105);
      const refused = await w.call('POST', '/p2p/chains', {
        signer: as(r),
        body: { chains: [{ coinValue: '10', n: 105, chainId: tooMuch.chainId, root: tooMuch.root }] },
      });
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ code: 'fairness_limit', details: { remaining: '1000' } });
      expect(await me(w, r)).toMatchObject({ balance: '1000', demand: '0', remaining: '1000' });

      // Q buys a chain and pays R 20 coins offline; R redeems them with Q's index: its supply is 200.
      const chain = await buyChain(w, q, 50);
      const start = indexAt(w, q, q.id, chain, 0, r.id);
      const end = indexAt(w, q, q.id, chain, 20, r.id);
      const [credited] = await redeem(w, r, [
        claimOf(w, r, chain, 0, 20, { startIndex: start, endIndex: end }),
      ]);
      expect(credited).toMatchObject({ status: 'credited', amount: '200', fee: '4' });
      expect(await me(w, r)).toMatchObject({
        earnings: '196',
        supply: '200',
        allowance: '1400',
        remaining: '1400',
      });
      expect(await me(w, q)).toMatchObject({
        balance: '500',
        demand: '500',
        ratio: '0.00',
        remaining: '500',
      });

      // Now 1050 is within the allowance; the balance (1000) is 50 short, taken from the earnings.
      const bought = await buyChain(w, r, 105);
      expect(bought.touchstone).toMatchObject({ chainId: bought.chainId, n: 105, coinValue: '10' });
      expect(await me(w, r)).toEqual({
        peerId: r.id,
        balance: '0',
        earnings: '146',
        supply: '200',
        demand: '1050',
        ratio: '0.19',
        allowance: '1400',
        remaining: '350',
        frozen: false,
      });
      const moved = await w.db.query<{ debit_account: string; credit_account: string; amount: bigint }>(
        "SELECT debit_account, credit_account, amount FROM ledger_transfers WHERE kind = 'p2p_earnings_spent' AND ref = $1",
        [r.id],
      );
      expect(moved).toEqual([
        { debit_account: `vendor:${r.id}`, credit_account: `customer:peer:${r.id}`, amount: 50n },
      ]);
      // 300 is within the allowance but more than balance and earnings: refused, nothing moved.
      const broke = clientChain(30);
      const short = await w.call('POST', '/p2p/chains', {
        signer: as(r),
        body: { chains: [{ coinValue: '10', n: 30, chainId: broke.chainId, root: broke.root }] },
      });
      expect([short.status, short.body.code]).toEqual([409, 'insufficient_funds']);
      expect(await me(w, r)).toMatchObject({ balance: '0', earnings: '146', demand: '1050' });
      // 400 is past it.
      const past = clientChain(40);
      const over = await w.call('POST', '/p2p/chains', {
        signer: as(r),
        body: { chains: [{ coinValue: '10', n: 40, chainId: past.chainId, root: past.root }] },
      });
      expect(over.body).toMatchObject({ code: 'fairness_limit', details: { remaining: '350' } });
    });

    it('refuses a peer’s claim without a good startIndex as not_holder, keeping it as evidence', async () => {
      const q = await newPeer(w);
      const s = await newPeer(w);
      const other = await newPeer(w);
      const chain = await buyChain(w, q, 30);
      const stranger = { id: q.id, signer: createSigner(randomBytes(32)) };
      const cases: [string, Claim][] = [
        ['no startIndex', claimOf(w, s, chain, 0, 5)],
        [
          'handed to another',
          claimOf(w, s, chain, 0, 5, {
            startIndex: indexAt(w, q, q.id, chain, 0, other.id),
            endIndex: indexAt(w, q, q.id, chain, 5, other.id),
          }),
        ],
        [
          'not the owner’s key',
          claimOf(w, s, chain, 0, 5, {
            startIndex: indexAt(w, stranger, q.id, chain, 0, s.id),
            endIndex: indexAt(w, stranger, q.id, chain, 5, s.id),
          }),
        ],
        [
          'signed by another peer',
          claimOf(w, s, chain, 0, 5, {
            startIndex: indexAt(w, other, other.id, chain, 0, s.id),
            endIndex: indexAt(w, other, other.id, chain, 5, s.id),
          }),
        ],
        [
          'starting before it',
          claimOf(w, s, chain, 2, 8, {
            startIndex: indexAt(w, q, q.id, chain, 3, s.id),
            endIndex: indexAt(w, q, q.id, chain, 8, s.id),
          }),
        ],
        [
          'a payword off the chain',
          claimOf(w, s, chain, 4, 8, {
            startIndex: indexAt(w, q, q.id, chain, 4, s.id, chain.words[5]),
            endIndex: indexAt(w, q, q.id, chain, 8, s.id),
          }),
        ],
      ];
      // A good startIndex, but no proof the owner paid that far: endIndex missing, behind, not the owner's.
      const from0 = { startIndex: indexAt(w, q, q.id, chain, 0, s.id) };
      cases.push(
        ['no endIndex', claimOf(w, s, chain, 0, 5, from0)],
        [
          'endIndex behind to',
          claimOf(w, s, chain, 0, 5, { ...from0, endIndex: indexAt(w, q, q.id, chain, 4, s.id) }),
        ],
        [
          'endIndex handed to another',
          claimOf(w, s, chain, 0, 5, { ...from0, endIndex: indexAt(w, q, q.id, chain, 5, other.id) }),
        ],
        [
          'endIndex signed by another peer',
          claimOf(w, s, chain, 0, 5, { ...from0, endIndex: indexAt(w, other, other.id, chain, 5, s.id) }),
        ],
        [
          'endIndex off the chain',
          claimOf(w, s, chain, 0, 5, {
            ...from0,
            endIndex: indexAt(w, q, q.id, chain, 6, s.id, chain.words[7]),
          }),
        ],
      );
      for (const [why, claim] of cases) {
        const [result] = await redeem(w, s, [claim]);
        expect(result, why).toMatchObject({ status: 'rejected', code: 'not_holder' });
      }
      // A vendor is held to the directory, startIndex or not.
      const v = await w.newVendor();
      const vendorClaim = claimOf(w, v, chain, 0, 5, {
        startIndex: indexAt(w, q, q.id, chain, 0, v.id),
        endIndex: indexAt(w, q, q.id, chain, 5, v.id),
      });
      expect((await redeem(w, v, [vendorClaim]))[0]).toMatchObject({ code: 'not_holder' });
      const evidence = await w.call('GET', '/admin/evidence', { token: ADMIN });
      const mine = evidence.body.evidence.filter((e: { chainId: string }) => e.chainId === chain.chainId);
      expect(mine.map((e: { reason: string }) => e.reason)).toEqual(
        Array(cases.length + 1).fill('not_holder'),
      );
      expect(await me(w, s)).toMatchObject({ supply: '0', earnings: '0' });
    });

    it('credits two peers paid the same coins from one stale index, charges the owner back and freezes it', async () => {
      const q = await newPeer(w);
      const s1 = await newPeer(w);
      const s2 = await newPeer(w);
      const shared = fileId();
      await w.call('PUT', '/p2p/files', {
        signer: as(q),
        body: {
          files: [{ fileId: shared, name: 'q shares this', size: 10, chunkSize: 262_144, price: '1' }],
        },
      });
      expect((await w.call('GET', `/p2p/files/${shared}`)).status).toBe(200);
      const chain = await buyChain(w, q, 30, '5');
      // Q shows both the index at 0 and spends coins 1..10 at each.
      const r1 = await redeem(w, s1, [
        claimOf(w, s1, chain, 0, 10, {
          startIndex: indexAt(w, q, q.id, chain, 0, s1.id),
          endIndex: indexAt(w, q, q.id, chain, 10, s1.id),
        }),
      ]);
      expect(r1[0]).toMatchObject({ status: 'credited', amount: '50' });
      const mid = await w.audit();
      const before = await me(w, q);
      expect(before.frozen).toBe(false);
      const r2 = await redeem(w, s2, [
        claimOf(w, s2, chain, 0, 10, {
          startIndex: indexAt(w, q, q.id, chain, 0, s2.id),
          endIndex: indexAt(w, q, q.id, chain, 10, s2.id),
        }),
      ]);
      expect(r2[0]).toMatchObject({ status: 'credited', amount: '50' });
      const after = await w.audit();
      expect(BigInt(after.totals.fraud)).toBe(BigInt(mid.totals.fraud));
      // Both sellers are paid (50 less the fee of 1 each); Q pays the 50 twice.
      expect((await me(w, s1)).earnings).toBe('49');
      expect((await me(w, s2)).earnings).toBe('49');
      expect(await me(w, q)).toMatchObject({
        balance: (BigInt(before.balance) - 50n).toString(),
        frozen: true,
      });
      expect((await w.call('GET', `/parties/${q.id}`)).body.frozen).toBe(true);
      // Sellers learn it from the frozen list, read from where they last were.
      const list = await w.call('GET', '/p2p/frozen');
      const entry = list.body.peers.find((p: { peerId: string }) => p.peerId === q.id);
      expect(entry).toMatchObject({ frozenAt: expect.stringMatching(/^[0-9]+$/) });
      expect(list.body.more).toBe(false);
      const from = (ms: bigint) => w.call('GET', `/p2p/frozen?since=${ms}`);
      const ids = (r: { body: { peers: { peerId: string }[] } }) => r.body.peers.map((p) => p.peerId);
      expect(ids(await from(BigInt(entry.frozenAt)))).toContain(q.id); // at or after
      expect(ids(await from(BigInt(entry.frozenAt) + 1n))).not.toContain(q.id);
      for (const bad of ['-1', 'soon', '1.5', '01'])
        expect((await w.call('GET', `/p2p/frozen?since=${bad}`)).body.code).toBe('bad_request');
      const account = await w.call('GET', `/admin/chains/${chain.chainId}`, { token: ADMIN });
      expect(account.body).toMatchObject({ chargedBack: '50', doubledCoins: 10, balanced: true });
      const evidence = await w.call('GET', '/admin/evidence', { token: ADMIN });
      expect(
        evidence.body.evidence.filter(
          (e: { chainId: string; reason: string }) =>
            e.chainId === chain.chainId && e.reason === 'double_spend',
        ),
      ).toHaveLength(1);
      // Frozen: it buys no more coins and its files are left out of search.
      const c = clientChain(2);
      const buy = await w.call('POST', '/p2p/chains', {
        signer: as(q),
        body: { chains: [{ coinValue: '5', n: 2, chainId: c.chainId, root: c.root }] },
      });
      expect([buy.status, buy.body.code]).toEqual([403, 'peer_frozen']);
      expect((await w.call('GET', `/p2p/files/${shared}`)).status).toBe(404);
      // What the sellers accepted stays theirs to redeem, the frozen peer's chain or not.
      const later = await redeem(w, s1, [
        claimOf(w, s1, chain, 10, 12, {
          startIndex: indexAt(w, q, q.id, chain, 0, s1.id),
          endIndex: indexAt(w, q, q.id, chain, 12, s1.id),
        }),
      ]);
      expect(later[0]).toMatchObject({ status: 'credited' });
    });

    it("charges a double spender back from its earnings when its coin account is empty, before the CIS's loss", async () => {
      const q = await newPeer(w);
      const payer = await newPeer(w);
      const s1 = await newPeer(w);
      const s2 = await newPeer(w);
      // Q spends its whole grant on one chain, then earns: the payer pays it 20 coins of 10.
      const own = await buyChain(w, q, 100, '10');
      const paid = await buyChain(w, payer, 20, '10');
      const at = (c: Chain, by: Peer, i: number, to: Peer) => indexAt(w, by, by.id, c, i, to.id);
      const earned = claimOf(w, q, paid, 0, 20, {
        startIndex: at(paid, payer, 0, q),
        endIndex: at(paid, payer, 20, q),
      });
      expect((await redeem(w, q, [earned]))[0]).toMatchObject({
        status: 'credited',
        amount: '200',
        fee: '4',
      });
      expect(await me(w, q)).toMatchObject({ balance: '0', earnings: '196' });
      const before = await w.audit();
      // Q spends coins 1..10 of its own chain at two sellers from the same stale index.
      for (const s of [s1, s2]) {
        const claim = claimOf(w, s, own, 0, 10, {
          startIndex: at(own, q, 0, s),
          endIndex: at(own, q, 10, s),
        });
        expect((await redeem(w, s, [claim]))[0]).toMatchObject({ status: 'credited', amount: '100' });
      }
      // The 100 charged back comes from its earnings; the CIS loses nothing.
      expect(await me(w, q)).toMatchObject({ balance: '0', earnings: '96', frozen: true });
      expect((await w.audit()).totals.fraud).toBe(before.totals.fraud);
      const account = await w.call('GET', `/admin/chains/${own.chainId}`, { token: ADMIN });
      expect(account.body).toMatchObject({ chargedBack: '100', doubledCoins: 10, balanced: true });
    });

    it('credits colluding sellers only what the owner paid each: the honest owner is not charged back', async () => {
      const q = await newPeer(w);
      const s1 = await newPeer(w);
      const s2 = await newPeer(w);
      const chain = await buyChain(w, q, 30, '5');
      const idx = (i: number, to: Peer) => indexAt(w, q, q.id, chain, i, to.id);
      const before = await me(w, q);
      // Q pays S1 coins 1..5, then S2 coins 6..10. S2 passes W(10) on to S1, which claims (0, 10] from
      // its first index: Q's own indexes show it paid S1 up to 5 only.
      const greedy = [
        claimOf(w, s1, chain, 0, 10, { startIndex: idx(0, s1), endIndex: idx(5, s1) }),
        claimOf(w, s1, chain, 0, 10, { startIndex: idx(0, s1), endIndex: idx(10, s2) }),
      ];
      for (const claim of greedy)
        expect((await redeem(w, s1, [claim]))[0]).toMatchObject({ status: 'rejected', code: 'not_holder' });
      const paid1 = await redeem(w, s1, [
        claimOf(w, s1, chain, 0, 5, { startIndex: idx(0, s1), endIndex: idx(5, s1) }),
      ]);
      const paid2 = await redeem(w, s2, [
        claimOf(w, s2, chain, 5, 10, { startIndex: idx(5, s2), endIndex: idx(10, s2) }),
      ]);
      expect([paid1[0], paid2[0]]).toMatchObject([
        { status: 'credited', amount: '25' },
        { status: 'credited', amount: '25' },
      ]);
      expect(await me(w, q)).toMatchObject({ balance: before.balance, frozen: false });
      const account = await w.call('GET', `/admin/chains/${chain.chainId}`, { token: ADMIN });
      expect(account.body).toMatchObject({ chargedBack: '0', doubledCoins: 0, balanced: true });
    });

    // A holding in the directory would let a take-over start from the highest redeemed payword: a seller
    // could then claim later coins from an old startIndex, and the honest buyer would be charged back.
    it("holds no peer's chain in the directory: claim, take-over, hand-over and backup answer peer_chain", async () => {
      const q = await newPeer(w);
      const s = await newPeer(w);
      const v = await w.newVendor();
      const chain = await buyChain(w, q, 20);
      const [paid] = await redeem(w, s, [
        claimOf(w, s, chain, 0, 5, {
          startIndex: indexAt(w, q, q.id, chain, 0, s.id),
          endIndex: indexAt(w, q, q.id, chain, 5, s.id),
        }),
      ]);
      expect(paid).toMatchObject({ status: 'credited' });
      const refused = async (path: string, caller: { id: string; signer: Ed25519Signer }, body: unknown) => {
        const r = await w.call('POST', path, { signer: caller, body });
        expect([r.status, r.body.code], `${path} by ${caller.id}`).toEqual([409, 'peer_chain']);
      };
      for (const caller of [as(s), as(q), w.asVendor(v)]) {
        await refused('/directory/claim', caller, { chainId: chain.chainId });
        await refused('/directory/takeover', caller, { chainId: chain.chainId });
        await refused('/directory/backup', caller, { index: indexAt(w, caller, caller.id, chain, 5, null) });
      }
      await refused('/directory/handover', as(s), { index: indexAt(w, q, q.id, chain, 5, s.id) });
      await refused('/directory/handover', w.asVendor(v), { index: indexAt(w, s, s.id, chain, 5, v.id) });
      const [row] = await w.db.query<{ holder: string | null; holdings: bigint }>(
        `SELECT holder, (SELECT count(*) FROM chain_holdings h WHERE h.chain_id = c.chain_id)::int8 AS holdings
           FROM chains c WHERE chain_id = $1`,
        [chain.chainId],
      );
      expect(row).toEqual({ holder: null, holdings: 0n });
    });

    it('pays no peer out: a peer may not name a bank account, and settlement leaves peers out', async () => {
      const q = await newPeer(w);
      const s = await newPeer(w);
      const acct = await w.bankClient.createAccount({ name: s.id });
      const register = (kind: string, bankAccount?: string) =>
        w.call('POST', '/parties', {
          signer: as(s),
          body: {
            id: s.id,
            kind,
            name: 'S',
            publicKey: toBase64url(s.signer.publicKey),
            ...(bankAccount ? { bankAccount } : {}),
          },
        });
      // Not again as a peer, nor as a "vendor" (the kind is fixed at first registration), nor a new peer.
      for (const kind of ['peer', 'vendor']) {
        const r = await register(kind, acct.id);
        expect([r.status, r.body.code], kind).toEqual([400, 'bad_request']);
      }
      const signer = createSigner(randomBytes(32));
      const fresh = `peer-new-${toBase64url(randomBytes(6))}`;
      const r = await w.call('POST', '/parties', {
        signer: { id: fresh, signer },
        body: {
          id: fresh,
          kind: 'peer',
          name: 'new',
          publicKey: toBase64url(signer.publicKey),
          bankAccount: acct.id,
        },
      });
      expect([r.status, r.body.code]).toEqual([400, 'bad_request']);
      expect((await w.call('GET', `/parties/${fresh}`)).status).toBe(404);
      expect((await register('peer')).status).toBe(201);
      // A peer that named one before the deployment went to tokens still earns tokens only.
      await w.db.query('UPDATE parties SET bank_account = $2 WHERE id = $1', [s.id, acct.id]);
      const chain = await buyChain(w, q, 20);
      const [paid] = await redeem(w, s, [
        claimOf(w, s, chain, 0, 10, {
          startIndex: indexAt(w, q, q.id, chain, 0, s.id),
          endIndex: indexAt(w, q, q.id, chain, 10, s.id),
        }),
      ]);
      expect(paid).toMatchObject({ status: 'credited', amount: '100' });
      // The broker holds a customer's money at the bank: a payout to the peer would be sent from it.
      await w.newCustomer('funds', 1_000_000n, 1000n);
      const run = await w.call('POST', '/admin/settlement/run', { token: ADMIN });
      expect(run.status, JSON.stringify(run.body)).toBe(200);
      expect((await me(w, s)).earnings).toBe('98');
      expect((await w.bankClient.getAccount(acct.token, acct.id)).balance).toBe(0n);
      const st = await w.call('GET', '/parties/me/statement', { signer: as(s) });
      expect(st.body).toMatchObject({ balance: '98', payouts: [] });
      // Nor can tokens reach a vendor (paid out in money) as a claim's payee.
      const v = await w.newVendor();
      const shared = await redeem(w, s, [
        claimOf(w, s, chain, 10, 12, {
          startIndex: indexAt(w, q, q.id, chain, 0, s.id),
          endIndex: indexAt(w, q, q.id, chain, 12, s.id),
          payees: [
            { payeeId: s.id, share: 5000 },
            { payeeId: v.id, share: 5000 },
          ],
        }),
      ]);
      expect(shared[0]).toMatchObject({ status: 'rejected', code: 'unknown_payee' });
    });

    it('refuses a peer’s claim on its own chain as not_holder: its supply and allowance stay', async () => {
      const q = await newPeer(w);
      const chain = await buyChain(w, q, 30);
      const before = await me(w, q);
      // A directory holding of its own chain (taken before the directory refused peers' chains) does not help either.
      await w.db.query(
        'INSERT INTO chain_holdings (chain_id, seq, party_id, start_index, started_at) VALUES ($1, 1, $2, 0, 0)',
        [chain.chainId, q.id],
      );
      const own = [
        claimOf(w, q, chain, 0, 10, {
          startIndex: indexAt(w, q, q.id, chain, 0, q.id),
          endIndex: indexAt(w, q, q.id, chain, 10, q.id),
        }),
        claimOf(w, q, chain, 10, 20),
      ];
      for (const claim of own) {
        const [result] = await redeem(w, q, [claim]);
        expect(result).toMatchObject({ status: 'rejected', code: 'not_holder' });
      }
      expect(await me(w, q)).toEqual(before);
      expect(before).toMatchObject({ supply: '0', earnings: '0', allowance: '1000' });
      const evidence = await w.call('GET', '/admin/evidence', { token: ADMIN });
      const mine = evidence.body.evidence.filter((e: { chainId: string }) => e.chainId === chain.chainId);
      expect(mine.map((e: { reason: string }) => e.reason)).toEqual(['not_holder', 'not_holder']);
    });
  });

  describe(`the CIS under concurrent requests [${kind}]`, () => {
    let w: World;
    beforeAll(async () => {
      w = await startWorld(kind, {
        config: { p2p: { currency: 'tokens', grant: '1000', freeAllowance: '1000000', supplyFactor: 2 } },
      });
    });
    afterAll(() => w?.close());
    afterEach(() => w.audit());

    // On PostgreSQL the two lock the same ledger accounts (p2p/service.ts buy locks them in the ledger's
    // order; a deadlock would be retried by the database layer, so this checks the outcome, not the order).
    it("runs a peer's purchases from earnings beside the redemptions that pay it: all done, figures add up", async () => {
      const q = await newPeer(w);
      const s = await newPeer(w);
      const chain = await buyChain(w, q, 50, '10');
      const paid = (i: number) =>
        claimOf(w, s, chain, i, i + 1, {
          startIndex: indexAt(w, q, q.id, chain, 0, s.id),
          endIndex: indexAt(w, q, q.id, chain, i + 1, s.id),
        });
      // S spends its grant, and earns from Q's coins: each purchase below moves earnings to its balance.
      await buyChain(w, s, 100, '10');
      expect(
        (
          await redeem(w, s, [
            claimOf(w, s, chain, 0, 10, {
              startIndex: indexAt(w, q, q.id, chain, 0, s.id),
              endIndex: indexAt(w, q, q.id, chain, 10, s.id),
            }),
          ])
        )[0],
      ).toMatchObject({ status: 'credited' });
      expect(await me(w, s)).toMatchObject({ balance: '0', earnings: '98' });
      const rounds = 8;
      const runs = await Promise.all(
        Array.from({ length: rounds }, async (_, i) => {
          const c = clientChain(1);
          const [buy, redeemed] = await Promise.all([
            w.call('POST', '/p2p/chains', {
              signer: as(s),
              body: { chains: [{ coinValue: '1', n: 1, chainId: c.chainId, root: c.root }] },
            }),
            w.call('POST', '/redemptions', { signer: as(s), body: { claims: [paid(10 + i)] } }),
          ]);
          return [buy.status, redeemed.body.results[0].status];
        }),
      );
      expect(runs).toEqual(Array(rounds).fill([201, 'credited']));
      // Earned 98 + 9 a round (10 less the fee of 1), spent 1 a round.
      expect(await me(w, s)).toMatchObject({
        balance: '0',
        earnings: String(98 + 8 * rounds),
        supply: String(10 * (10 + rounds)),
        demand: String(1000 + rounds),
      });
    });
  });

  describe(`the CIS in money mode [${kind}]`, () => {
    let w: World;
    beforeAll(async () => {
      w = await startWorld(kind);
    });
    afterAll(() => w?.close());
    afterEach(() => w.audit());

    it('opens a coin account without a grant: a peer buys only from what it has', async () => {
      const p = await newPeer(w);
      expect(await me(w, p)).toMatchObject({
        balance: '0',
        earnings: '0',
        allowance: '100000',
        frozen: false,
      });
      expect((await w.audit()).grants).toBe('0');
      const accounts = await w.db.query<{ id: string }>('SELECT id FROM ledger_accounts WHERE id = $1', [
        `customer:peer:${p.id}`,
      ]);
      expect(accounts).toHaveLength(1);
      const c = clientChain(5);
      const buy = await w.call('POST', '/p2p/chains', {
        signer: as(p),
        body: { chains: [{ coinValue: '10', n: 5, chainId: c.chainId, root: c.root }] },
      });
      expect([buy.status, buy.body.code]).toEqual([409, 'insufficient_funds']);
    });

    it('gives peers registered before the migration their coin account', async () => {
      const db = await openTestDatabase(kind);
      try {
        const before = BROKER_MIGRATIONS.filter((m) => m.id < '20261210_0100_peer_accounts');
        await migrate(db, before);
        await db.query(
          "INSERT INTO parties (id, kind, name, public_key, url, bank_account, created_at) VALUES ('old-peer', 'peer', 'Old', $1, NULL, NULL, 1), ('old-vendor', 'vendor', 'Old', $1, NULL, NULL, 1)",
          [randomBytes(32)],
        );
        await migrate(db, BROKER_MIGRATIONS);
        expect(await db.query('SELECT id, login FROM customers')).toEqual([
          { id: 'peer:old-peer', login: 'peer:old-peer' },
        ]);
        expect(
          await db.query("SELECT id, kind, balance FROM ledger_accounts WHERE kind = 'customer'"),
        ).toEqual([{ id: 'customer:peer:old-peer', kind: 'customer', balance: 0n }]);
        const [row] = await db.query<{ password_hash: string }>('SELECT password_hash FROM customers');
        expect(row!.password_hash).toBe(NO_PASSWORD);
      } finally {
        await db.close();
      }
    });
  });
}
