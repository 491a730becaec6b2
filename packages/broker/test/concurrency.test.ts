import { TEST_DATABASES } from '@netpay/db/testing';
import { signMessage, toBase64url } from '@netpay/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Customer, clientChain, freshKey, startWorld, type World } from './world.ts';

/** Races that must have exactly one winner, on both databases. */
for (const kind of TEST_DATABASES) {
  describe(`broker concurrency [${kind}]`, () => {
    let w: World;
    let alice: Customer;
    beforeAll(async () => {
      w = await startWorld(kind);
      alice = await w.newCustomer('racer', 10_000_000n, 2_000_000n);
    });
    afterAll(() => w?.close());
    afterEach(() => w.audit());

    async function buy(n = 20) {
      const chain = clientChain(n);
      const r = await w.call('POST', '/me/chains', {
        token: alice.token,
        body: { chains: [{ coinValue: '10', n, chainId: chain.chainId, root: chain.root }] },
      });
      expect(r.status).toBe(201);
      return chain;
    }

    it('grants a chain claimed by two vendors at once to exactly one', async () => {
      const [a, b] = [await w.newVendor(), await w.newVendor()];
      for (let round = 0; round < 5; round++) {
        const chain = await buy();
        const results = await Promise.all(
          [a, b].map((v) =>
            w.call('POST', '/directory/claim', { signer: w.asVendor(v), body: { chainId: chain.chainId } }),
          ),
        );
        const granted = results.filter((r) => r.body.granted === true);
        expect(granted).toHaveLength(1);
        const loser = results.find((r) => r.body.granted === false)!;
        expect(loser.body.holder.id).toBe(granted[0]!.body.holder.id);
      }
    });

    it('does the work of one idempotency key once when it arrives twice at once', async () => {
      const before = BigInt((await w.call('GET', '/me', { token: alice.token })).body.balance);
      for (let round = 0; round < 5; round++) {
        const key = freshKey();
        const body = { chains: [{ coinValue: '5', n: 10 }] };
        const [x, y] = await Promise.all([
          w.call('POST', '/me/chains', { token: alice.token, key, body }),
          w.call('POST', '/me/chains', { token: alice.token, key, body }),
        ]);
        expect([x.status, y.status]).toEqual([201, 201]);
        expect(x.body.chains[0].chainId).toBe(y.body.chains[0].chainId);
      }
      const after = BigInt((await w.call('GET', '/me', { token: alice.token })).body.balance);
      expect(before - after).toBe(5n * 50n);
    });

    it('refunds a chain once when two refunds race', async () => {
      for (let round = 0; round < 5; round++) {
        const chain = await buy(30);
        const before = BigInt((await w.call('GET', '/me', { token: alice.token })).body.balance);
        const results = await Promise.all(
          [1, 2].map(() =>
            w.call('POST', `/me/chains/${chain.chainId}/refund`, {
              token: alice.token,
              body: { spentIndex: 0 },
            }),
          ),
        );
        expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
        const after = BigInt((await w.call('GET', '/me', { token: alice.token })).body.balance);
        expect(after - before).toBe(300n);
      }
    });

    it('credits one of two redemptions of the same coins racing in separate requests', async () => {
      const v = await w.newVendor();
      const chain = await buy(20);
      const held = await w.call('POST', '/directory/claim', {
        signer: w.asVendor(v),
        body: { chainId: chain.chainId },
      });
      expect(held.body.granted).toBe(true);
      const words = [Buffer.from(chain.root, 'base64url')];
      for (let i = 1; i <= 20; i++) words.push(Buffer.from(chain.traversal.next()!.payword));
      const claim = (seed: number) =>
        signMessage(
          'claim',
          {
            v: 1,
            claimId: toBase64url(new Uint8Array(16).fill(seed)),
            vendorId: v.id,
            chainId: chain.chainId,
            from: { index: 0, payword: toBase64url(words[0]!) },
            to: { index: 20, payword: toBase64url(words[20]!) },
            issuedAt: Math.floor(w.clock() / 1000),
          },
          v.signer,
        );
      const results = await Promise.all([
        w.call('POST', '/redemptions', { signer: w.asVendor(v), body: { claims: [claim(1)] } }),
        w.call('POST', '/redemptions', { signer: w.asVendor(v), body: { claims: [claim(2)] } }),
      ]);
      const codes = results.map((r) => r.body.results[0].code ?? r.body.results[0].status).sort();
      expect(codes).toEqual(['credited', 'overlapping_claim']);
      const st = await w.call('GET', '/parties/me/statement', { signer: w.asVendor(v) });
      expect(st.body.balance).toBe('196');
    });
  });
}
