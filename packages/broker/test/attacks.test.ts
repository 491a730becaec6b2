/**
 * Attacks on the broker (issue 18 §4), one named test each, against the real broker and bank on loopback.
 * Each attack is refused with a 4xx and changes nothing, or is paid exactly once; the ledger audit runs
 * after every case. The vendor-side attacks (forged and replayed payments, touchstones, the same coins at
 * two vendors) are in packages/gate/test/attacks.test.ts.
 */
import { TEST_DATABASES } from '@netpay/db/testing';
import { type Claim, createSigner, signMessage, toBase64url } from '@netpay/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sourceOf } from '../src/guard/tokens.ts';
import { ADMIN, boughtChain, type Customer, freshKey, startWorld, type Vendor, type World } from './world.ts';

const nowS = (w: World) => Math.floor(w.clock() / 1000);

type Chain = Awaited<ReturnType<typeof boughtChain>>;

/** `by`'s index at `i` on the chain, signed over to `to` (null: a backup). */
const indexOf = (w: World, by: Vendor, c: Chain, i: number, to: string | null) =>
  signMessage(
    'index',
    {
      v: 1,
      chainId: c.chainId,
      index: i,
      payword: toBase64url(c.words[i]!),
      vendorId: by.id,
      handedTo: to,
      issuedAt: nowS(w),
    },
    by.signer,
  );

/** `by`'s claim of coins (from, to] of the chain. */
const claimOf = (w: World, by: Vendor, c: Chain, from: number, to: number): Claim =>
  signMessage(
    'claim',
    {
      v: 1,
      claimId: toBase64url(crypto.getRandomValues(new Uint8Array(16))),
      vendorId: by.id,
      chainId: c.chainId,
      from: { index: from, payword: toBase64url(c.words[from]!) },
      to: { index: to, payword: toBase64url(c.words[to]!) },
      issuedAt: nowS(w),
    },
    by.signer,
  );

for (const kind of TEST_DATABASES) {
  describe(`attacks on the broker [${kind}]`, () => {
    let w: World;
    let alice: Customer;
    let bob: Customer;
    beforeAll(async () => {
      w = await startWorld(kind);
      alice = await w.newCustomer('alice', 10_000_000n, 2_000_000n);
      bob = await w.newCustomer('bob', 10_000_000n, 1_000_000n);
    });
    afterAll(() => w?.close());
    afterEach(() => w.audit());

    const claimChain = (v: Vendor, chainId: string) =>
      w.call('POST', '/directory/claim', { signer: w.asVendor(v), body: { chainId } });
    const redeem = (v: Vendor, claims: unknown[]) =>
      w.call('POST', '/redemptions', { signer: w.asVendor(v), body: { claims } });
    const balanceOf = async (v: Vendor) =>
      BigInt((await w.call('GET', '/parties/me/statement', { signer: w.asVendor(v) })).body.balance);
    const holdings = (chainId: string) =>
      w.db.query(
        'SELECT party_id, start_index, end_index FROM chain_holdings WHERE chain_id = $1 ORDER BY seq',
        [chainId],
      );
    const balance = async (c: Customer) =>
      BigInt((await w.call('GET', '/me', { token: c.token })).body.balance);

    it('an index signed for another vendor is refused at the hand-over and changes nothing', async () => {
      const [a, b, c] = [await w.newVendor(), await w.newVendor(), await w.newVendor()];
      const chain = await boughtChain(w, alice, 20);
      expect((await claimChain(a, chain.chainId)).body.granted).toBe(true);
      const before = await holdings(chain.chainId);
      // A signed its index over to C; B presents it as its own.
      const forC = indexOf(w, a, chain, 5, c.id);
      const r = await w.call('POST', '/directory/handover', { signer: w.asVendor(b), body: { index: forC } });
      expect(r.status).toBe(403);
      expect(r.body.code).toBe('wrong_recipient');
      // A backup (handed to nobody) is no hand-over either.
      const backup = indexOf(w, a, chain, 5, null);
      const r2 = await w.call('POST', '/directory/handover', {
        signer: w.asVendor(b),
        body: { index: backup },
      });
      expect(r2.status).toBe(403);
      expect(await holdings(chain.chainId)).toEqual(before);
      expect((await claimChain(b, chain.chainId)).body).toMatchObject({
        granted: false,
        holder: { id: a.id },
      });
    });

    it('a vendor redeeming coins it never received is refused and credited nothing', async () => {
      const [a, b] = [await w.newVendor(), await w.newVendor()];
      const chain = await boughtChain(w, alice, 20);
      expect((await claimChain(a, chain.chainId)).body.granted).toBe(true);
      // B never held the chain, yet it knows real paywords (say, seen on the wire).
      const r = await redeem(b, [claimOf(w, b, chain, 0, 5)]);
      expect(r.body.results[0]).toMatchObject({ status: 'rejected', code: 'not_holder' });
      // A holds it, but a payword off the chain is no coin.
      const forged = { ...claimOf(w, a, chain, 0, 5) };
      const fake = signMessage(
        'claim',
        {
          ...forged,
          to: { index: 5, payword: toBase64url(new Uint8Array(32).fill(7)) },
          sig: undefined,
        } as never,
        a.signer,
      );
      const r2 = await redeem(a, [fake]);
      expect(r2.body.results[0]).toMatchObject({ status: 'rejected', code: 'payword_invalid' });
      expect([await balanceOf(a), await balanceOf(b)]).toEqual([0n, 0n]);
    });

    it("a vendor redeeming another vendor's coins is refused: its holding ended at the hand-over", async () => {
      const [a, b] = [await w.newVendor(), await w.newVendor()];
      const chain = await boughtChain(w, alice, 30);
      expect((await claimChain(a, chain.chainId)).body.granted).toBe(true);
      const handed = await w.call('POST', '/directory/handover', {
        signer: w.asVendor(b),
        body: { index: indexOf(w, a, chain, 10, b.id) },
      });
      expect(handed.status, JSON.stringify(handed.body)).toBe(200);
      // A claims coins B accepted after the hand-over; B claims the coins A accepted before it.
      expect((await redeem(a, [claimOf(w, a, chain, 10, 20)])).body.results[0]).toMatchObject({
        status: 'rejected',
        code: 'not_holder',
      });
      expect((await redeem(b, [claimOf(w, b, chain, 0, 10)])).body.results[0]).toMatchObject({
        status: 'rejected',
        code: 'not_holder',
      });
      // Each is credited its own range, once.
      expect((await redeem(a, [claimOf(w, a, chain, 0, 10)])).body.results[0].status).toBe('credited');
      expect((await redeem(b, [claimOf(w, b, chain, 10, 20)])).body.results[0].status).toBe('credited');
      expect([await balanceOf(a), await balanceOf(b)]).toEqual([98n, 98n]);
    });

    it("a vendor's signature on another vendor's claims and holdings is refused", async () => {
      const [a, b] = [await w.newVendor(), await w.newVendor()];
      const chain = await boughtChain(w, alice, 20);
      expect((await claimChain(a, chain.chainId)).body.granted).toBe(true);
      // B sends A's own signed claim under its signature: the claim names A, the request B.
      const aClaim = claimOf(w, a, chain, 0, 5);
      expect((await redeem(b, [aClaim])).body.results[0]).toMatchObject({
        status: 'rejected',
        code: 'wrong_vendor',
      });
      // B pushes A's index as a backup of its own.
      const backup = await w.call('POST', '/directory/backup', {
        signer: w.asVendor(b),
        body: { index: indexOf(w, a, chain, 5, null) },
      });
      expect(backup.status).toBe(403);
      // B takes A's chain over while A's lease runs.
      const takeover = await w.call('POST', '/directory/takeover', {
        signer: w.asVendor(b),
        body: { chainId: chain.chainId },
      });
      expect([takeover.status, takeover.body.code]).toEqual([409, 'lease_active']);
      expect((await claimChain(a, chain.chainId)).body).toMatchObject({
        granted: true,
        holder: { id: a.id },
      });
      // B signs a request with its key under A's key id.
      const spoof = await w.call('POST', '/redemptions', {
        signer: { id: a.id, signer: b.signer },
        body: { claims: [aClaim] },
      });
      expect(spoof.status).toBe(401);
      expect(spoof.body.code).toBe('signature_invalid');
      // A signed request of a party the broker does not know.
      const ghost = await w.call('POST', '/directory/claim', {
        signer: { id: 'ghost-vendor', signer: b.signer },
        body: { chainId: chain.chainId },
      });
      expect(ghost.body.code).toBe('unknown_signer');
      expect([await balanceOf(a), await balanceOf(b)]).toEqual([0n, 0n]);
      // A's claim, sent by A, is credited once.
      expect((await redeem(a, [aClaim])).body.results[0].status).toBe('credited');
    });

    it("a customer's token on another customer's chains, refunds, wallet grants and devices is refused", async () => {
      const chain = await boughtChain(w, alice, 20);
      const before = [await balance(alice), await balance(bob)];
      const peek = await w.call('GET', `/me/chains/${chain.chainId}`, { token: bob.token });
      expect(peek.status).toBe(404);
      const refund = await w.call('POST', `/me/chains/${chain.chainId}/refund`, {
        token: bob.token,
        body: { spentIndex: 0 },
      });
      expect(refund.status).toBe(404);
      expect(refund.body.code).toBe('chain_not_found');
      expect((await w.call('GET', '/me/chains', { token: bob.token })).body.chains).not.toContainEqual(
        expect.objectContaining({ chainId: chain.chainId }),
      );
      // Bob signs in with his own password on Alice's verified device: a new device that needs a code.
      const [aliceDevice] = await w.db.query<{ id: string }>(
        'SELECT id FROM devices WHERE customer_id = $1 AND verified_at IS NOT NULL',
        [alice.customerId],
      );
      const onHers = await w.call('POST', '/sessions', {
        body: { login: bob.login, password: 'correct horse battery', deviceId: aliceDevice!.id },
      });
      expect(onHers.body).toMatchObject({ verificationRequired: true });
      expect(onHers.body.deviceId).not.toBe(aliceDevice!.id);
      expect(onHers.body.session).toBeUndefined();
      // Her server-side wallet: a grant to a shop, which Bob can neither see, raise nor revoke.
      const shop = await w.newVendor(undefined, true, 'http://shop.example');
      const grant = await w.call('POST', '/wallet/authorize', {
        token: alice.token,
        key: false,
        body: { vendor: shop.id, redirect_uri: 'http://shop.example/back', cap: '1000' },
      });
      expect(grant.status, JSON.stringify(grant.body)).toBe(200);
      const grants = (c: Customer) => w.call('GET', '/me/wallet/grants', { token: c.token });
      expect((await grants(bob)).body.grants).toEqual([]);
      const revoke = await w.call('DELETE', `/me/wallet/grants/${shop.id}`, { token: bob.token, key: false });
      expect(revoke.status).toBe(404);
      // A cap Bob sets for the shop is a cap on his own (future) grant, not on hers.
      const raise = await w.call('PUT', `/me/wallet/grants/${shop.id}`, {
        token: bob.token,
        key: false,
        body: { cap: '2000' },
      });
      expect(raise.status).toBe(200);
      expect((await grants(bob)).body.grants).toEqual([expect.objectContaining({ cap: '2000' })]);
      expect((await grants(alice)).body.grants).toEqual([
        expect.objectContaining({ vendorId: shop.id, cap: '1000', spent: '0' }),
      ]);
      expect([await balance(alice), await balance(bob)]).toEqual(before);
      // Her chain is still hers to refund.
      const hers = await w.call('POST', `/me/chains/${chain.chainId}/refund`, {
        token: alice.token,
        body: { spentIndex: 0 },
      });
      expect(hers.status).toBe(200);
      expect(await balance(alice)).toBe(before[0]! + 200n);
    });

    it('sends to oneself or to unknown accounts are refused and move nothing', async () => {
      const before = [await balance(alice), await balance(bob)];
      const send = (to: string) =>
        w.call('POST', '/me/transfers', { token: alice.token, body: { to, amount: '100' } });
      const self = await send(alice.login);
      expect([self.status, self.body.code]).toEqual([400, 'bad_request']);
      expect((await send(alice.login.toUpperCase())).status).toBe(400);
      expect((await send('nobody-here@example.com')).body.code).toBe('recipient_not_found');
      expect((await send('+14155550199')).body.code).toBe('recipient_not_found');
      // Accounts that are no customer's login: a peer's coin account, the ledger's own accounts.
      const peer = createSigner(crypto.getRandomValues(new Uint8Array(32)));
      const peerId = `peer-${kind}-${toBase64url(crypto.getRandomValues(new Uint8Array(4)))}`;
      const reg = await w.call('POST', '/parties', {
        signer: { id: peerId, signer: peer },
        body: { id: peerId, kind: 'peer', name: peerId, publicKey: toBase64url(peer.publicKey) },
      });
      expect(reg.status).toBe(201);
      for (const to of [`peer:${peerId}`, 'peer:nobody', 'bank', 'coins_outstanding', 'fees']) {
        const r = await send(to);
        expect(r.status, to).toBeGreaterThanOrEqual(400);
        expect(r.status, to).toBeLessThan(500);
      }
      expect([await balance(alice), await balance(bob)]).toEqual(before);
    });

    it('a refund sent twice in parallel pays once, with the same and with different idempotency keys', async () => {
      for (const same of [true, false]) {
        const chain = await boughtChain(w, alice, 30);
        const before = await balance(alice);
        const key = freshKey();
        const results = await Promise.all(
          [1, 2].map(() =>
            w.call('POST', `/me/chains/${chain.chainId}/refund`, {
              token: alice.token,
              key: same ? key : freshKey(),
              body: { spentIndex: 0 },
            }),
          ),
        );
        const answers = results.map((r) => [r.status, r.body.code ?? r.body.status]).sort();
        if (same) {
          // The same key: one refund; the other is its replay, or, arriving while it runs, told so.
          expect(answers[0]).toEqual([200, 'refunded']);
          expect([
            [200, 'refunded'],
            [409, 'request_in_progress'],
          ]).toContainEqual(answers[1]);
          // Retried with that key, it gets the first answer.
          const again = await w.call('POST', `/me/chains/${chain.chainId}/refund`, {
            token: alice.token,
            key,
            body: { spentIndex: 0 },
          });
          expect(again.status).toBe(200);
          expect(again.headers.get('idempotent-replayed')).toBe('true');
          expect(again.body).toEqual(results.find((r) => r.status === 200)!.body);
        } else {
          // Two keys: one refund, the other refused.
          expect(answers).toEqual([
            [200, 'refunded'],
            [409, 'chain_refunded'],
          ]);
        }
        expect(await balance(alice)).toBe(before + 300n);
        const [row] = await w.db.query<{ n: bigint }>(
          "SELECT count(*)::int8 AS n FROM redemptions WHERE chain_id = $1 AND kind = 'refund'",
          [chain.chainId],
        );
        expect(Number(row!.n)).toBe(1);
      }
    });

    it('a settlement run twice in parallel pays each vendor once, with the same and with different keys', async () => {
      for (const same of [true, false]) {
        const v = await w.newVendor();
        const chain = await boughtChain(w, alice, 50);
        expect((await claimChain(v, chain.chainId)).body.granted).toBe(true);
        expect((await redeem(v, [claimOf(w, v, chain, 0, 50)])).body.results[0].status).toBe('credited');
        const key = freshKey();
        const runs = await Promise.all(
          [1, 2].map(() =>
            w.call('POST', '/admin/settlement/run', { token: ADMIN, key: same ? key : freshKey() }),
          ),
        );
        // The same key at once: one run, the other waits for it or is told it is in flight.
        for (const r of runs) expect([200, 409], JSON.stringify(r.body)).toContain(r.status);
        if (!same) expect(runs.map((r) => r.status)).toEqual([200, 200]);
        // Whatever the second one did, the vendor's bank account got its earnings once.
        await w.call('POST', '/admin/settlement/run', { token: ADMIN });
        expect((await w.bankClient.getAccount(v.bankToken, v.bankAccount)).balance).toBe(490n);
        expect(await balanceOf(v)).toBe(0n);
        const payouts = await w.db.query('SELECT amount FROM payouts WHERE party_id = $1', [v.id]);
        expect(payouts).toHaveLength(1);
      }
    });

    it('brute force on device codes is locked out: a few tries per code, ten per device', async () => {
      const login = `codes-${kind}@example.com`;
      const reg = await w.call('POST', '/customers', { body: { login, password: 'correct horse battery' } });
      expect(reg.status).toBe(201);
      const right = await w.latestCode(login);
      const wrong = right === '000000' ? '111111' : '000000';
      const verify = (code: string) =>
        w.call('POST', `/devices/${reg.body.deviceId}/verify`, { body: { code } });
      for (let i = 0; i < 5; i++) expect((await verify(wrong)).body.code).toBe('code_invalid');
      const spent = await verify(right);
      expect([spent.status, spent.body.code]).toEqual([429, 'too_many_attempts']);
      // A resend comes only after its wait (with Retry-After), and gives five tries more.
      const early = await w.call('POST', `/devices/${reg.body.deviceId}/code`);
      expect(early.status).toBe(429);
      expect(Number(early.headers.get('retry-after'))).toBeGreaterThan(0);
      w.advance(Number(early.headers.get('retry-after')) * 1000);
      expect((await w.call('POST', `/devices/${reg.body.deviceId}/code`)).status).toBe(202);
      for (let i = 0; i < 5; i++) expect((await verify(wrong)).status).toBe(401);
      // Ten wrong codes in all: the device is done for, whatever comes next.
      w.advance(60_000);
      expect((await w.call('POST', `/devices/${reg.body.deviceId}/code`)).status).toBe(429);
      expect((await verify(await w.latestCode(login))).status).toBe(429);
      const [device] = await w.db.query<{ verified_at: unknown }>(
        'SELECT verified_at FROM devices WHERE id = $1',
        [reg.body.deviceId],
      );
      expect(device!.verified_at).toBeNull();
    });

    it('brute force on passwords locks the login for a while, saying when to retry', async () => {
      const login = `guessed-${kind}@example.com`;
      const password = 'correct horse battery';
      expect((await w.call('POST', '/customers', { body: { login, password } })).status).toBe(201);
      const attempt = (p: string) => w.call('POST', '/sessions', { body: { login, password: p } });
      for (let i = 0; i < 10; i++) expect((await attempt(`wrong password ${i}`)).status).toBe(401);
      const locked = await attempt(password);
      expect(locked.status).toBe(429);
      expect(locked.body.code).toBe('too_many_attempts');
      expect(locked.body.details.retryAfter).toBe(900);
      expect(locked.headers.get('retry-after')).toBe('900');
      w.advance(900_000 + 1);
      expect((await attempt(password)).status).toBe(200);
    });

    it('brute force on session and admin tokens locks the source out, saying when to retry', async () => {
      const guess = (path: string) =>
        w.call('GET', path, { token: toBase64url(crypto.getRandomValues(new Uint8Array(32))) });
      for (let i = 0; i < 10; i++) expect((await guess('/me')).status).toBe(401);
      for (let i = 0; i < 10; i++) expect((await guess('/admin/audit')).status).toBe(401);
      // The 21st wrong token from this address: refused without being checked, and so are right ones.
      const locked = await guess('/me');
      expect(locked.status).toBe(429);
      expect(locked.body.code).toBe('too_many_attempts');
      expect(locked.body.details.retryAfter).toBeGreaterThan(0);
      expect(Number(locked.headers.get('retry-after'))).toBe(locked.body.details.retryAfter);
      expect((await w.call('GET', '/me', { token: alice.token })).status).toBe(429);
      expect((await w.call('GET', '/admin/audit', { token: ADMIN })).status).toBe(429);
      // X-Forwarded-For from a client is not believed (no proxy is trusted here).
      const spoofed = { token: alice.token, headers: { 'x-forwarded-for': '198.51.100.1' } };
      expect((await w.call('GET', '/me', spoofed)).status).toBe(429);
      // A right token does not clear the count (a guesser holding a token of its own would reset it).
      w.advance(locked.body.details.retryAfter * 1000);
      expect((await w.call('GET', '/me', { token: alice.token })).status).toBe(200);
      expect((await guess('/me')).status).toBe(401);
      // Counted per address; an IPv6 address by its /64, so hopping inside one's own network gains nothing.
      expect(sourceOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
      expect(sourceOf('2001:db8:0:42::1')).toBe(sourceOf('2001:0db8:0000:0042:ffff:1:2:3%eth0'));
      expect(sourceOf('2001:db8:0:42::1')).not.toBe(sourceOf('2001:db8:0:43::1'));
    });
  });
}

describe('the /dev endpoints outside dev mode', () => {
  it('the broker serves /dev/outbox only in dev mode', async () => {
    const prod = await startWorld('pglite', { config: { dev: false } });
    try {
      for (const path of ['/dev/outbox', '/dev/outbox?recipient=a%40example.com']) {
        const r = await prod.call('GET', path);
        expect([r.status, r.body.code]).toEqual([404, 'not_found']);
      }
      const c = await prod.call('POST', '/customers', {
        body: { login: 'someone@example.com', password: 'correct horse battery' },
      });
      expect(c.status).toBe(201);
      const none = await prod.call('GET', '/dev/outbox?recipient=someone%40example.com');
      expect(none.status).toBe(404);
      expect(JSON.stringify(none.body)).not.toMatch(/\d{6}/);
    } finally {
      await prod.close();
    }
  });
});

describe('token guessing behind a trusted reverse proxy', () => {
  it("locks out the guesser's address that the proxy names, not everyone behind the proxy", async () => {
    const w = await startWorld('pglite', { config: { trustedProxies: ['127.0.0.1'], tokenMaxFailures: 5 } });
    try {
      const alice = await w.newCustomer('proxied');
      const from = (ip: string, token: string) =>
        w.call('GET', '/me', { token, headers: { 'x-forwarded-for': ip } });
      const guess = () => toBase64url(crypto.getRandomValues(new Uint8Array(32)));
      for (let i = 0; i < 5; i++) expect((await from('203.0.113.5', guess())).status).toBe(401);
      expect((await from('203.0.113.5', guess())).status).toBe(429);
      expect((await from('203.0.113.5', alice.token)).status).toBe(429);
      // Another client behind the same proxy is not locked out.
      expect((await from('203.0.113.6', alice.token)).status).toBe(200);
    } finally {
      await w.close();
    }
  });
});
