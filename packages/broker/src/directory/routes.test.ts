/**
 * The directory's routes as a vendor calls them: each call is one transaction with the answer kept under
 * its Idempotency-Key, a claim names the holder's URL, and a hand-over ends the old holding and opens the
 * new one at the index signed over — or, during a refund, is recorded and still refused.
 */
import { TEST_DATABASES } from '@netpay/db/testing';
import { signMessage, toBase64url } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Customer,
  clientChain,
  freshKey,
  startWorld,
  type Vendor,
  type World,
} from '../../test/world.ts';

for (const kind of TEST_DATABASES) {
  describe(`directory routes [${kind}]`, () => {
    let w: World;
    let alice: Customer;
    beforeAll(async () => {
      w = await startWorld(kind);
      alice = await w.newCustomer('walker', 1_000_000n, 100_000n);
    });
    afterAll(() => w?.close());

    /** A chain alice bought, with its paywords (index 0 is the root). */
    async function chain(n: number) {
      const c = clientChain(n);
      const r = await w.call('POST', '/me/chains', {
        token: alice.token,
        body: { chains: [{ coinValue: '10', n, chainId: c.chainId, root: c.root }] },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      const words = [Buffer.from(c.root, 'base64url') as Uint8Array];
      for (let i = 1; i <= n; i++) words.push(c.traversal.next()!.payword);
      return { chainId: c.chainId, words };
    }

    /** `from`'s index `i` on the chain, signed over to `to`. */
    const handedTo = (from: Vendor, to: Vendor, c: { chainId: string; words: Uint8Array[] }, i: number) =>
      signMessage(
        'index',
        {
          v: 1,
          chainId: c.chainId,
          index: i,
          payword: toBase64url(c.words[i]!),
          vendorId: from.id,
          handedTo: to.id,
          issuedAt: Math.floor(w.clock() / 1000),
        },
        from.signer,
      );

    const claim = (v: Vendor, chainId: string) =>
      w.call('POST', '/directory/claim', { signer: w.asVendor(v), body: { chainId } });
    const handover = (v: Vendor, index: unknown, key: string) =>
      w.call('POST', '/directory/handover', { signer: w.asVendor(v), body: { index }, key });
    const holdings = (chainId: string) =>
      w.db.query<{ party_id: string; start_index: number; end_index: number | null; soft_end: boolean }>(
        'SELECT party_id, start_index, end_index, soft_end FROM chain_holdings WHERE chain_id = $1 ORDER BY seq',
        [chainId],
      );

    it('names the holder and its URL; a hand-over ends its holding and opens the next at the index, once', async () => {
      const a = await w.newVendor(undefined, true, 'http://a.example');
      const b = await w.newVendor(undefined, true, 'http://b.example');
      const c = await chain(20);
      expect((await claim(a, c.chainId)).body).toMatchObject({
        granted: true,
        holder: { id: a.id, url: 'http://a.example' },
      });
      const meet = await claim(b, c.chainId);
      expect(meet.body).toMatchObject({
        granted: false,
        backup: null,
        holder: { id: a.id, url: 'http://a.example' },
      });
      const key = freshKey();
      const index = handedTo(a, b, c, 7);
      const first = await handover(b, index, key);
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.body).toMatchObject({ granted: true, chainId: c.chainId, index: 7 });
      // The same request again (its answer was lost): the same answer, nothing recorded twice.
      const again = await handover(b, index, key);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(await holdings(c.chainId)).toEqual([
        { party_id: a.id, start_index: 0, end_index: 7, soft_end: false },
        { party_id: b.id, start_index: 7, end_index: null, soft_end: false },
      ]);
      // Under a new key it is a new request: the index was A's, and A holds the chain no more.
      expect((await handover(b, index, freshKey())).body.code).toBe('chain_not_held');
      expect((await claim(b, c.chainId)).body).toMatchObject({
        granted: true,
        holder: { id: b.id, url: 'http://b.example' },
      });
      expect((await claim(a, c.chainId)).body).toMatchObject({ granted: false, holder: { id: b.id } });
    });

    it('records a hand-over presented during a refund, refuses it (its replay too), and the refund starts there', async () => {
      const a = await w.newVendor(); // no URL: the broker cannot ask it, so the refund waits
      const b = await w.newVendor();
      const c = await chain(20);
      await claim(a, c.chainId);
      const refund = () =>
        w.call('POST', `/me/chains/${c.chainId}/refund`, { token: alice.token, body: { spentIndex: 3 } });
      expect((await refund()).status).toBe(202);
      const key = freshKey();
      const index = handedTo(a, b, c, 5);
      for (const attempt of [1, 2]) {
        const r = await handover(b, index, key);
        expect(r.status, `attempt ${attempt}`).toBe(409);
        expect(r.body.code).toBe('chain_refunding');
      }
      // A stopped at 5 (it signed so): its holding ends there, nobody holds the chain.
      expect(await holdings(c.chainId)).toEqual([
        { party_id: a.id, start_index: 0, end_index: 5, soft_end: false },
      ]);
      const done = await refund();
      expect(done.status, JSON.stringify(done.body)).toBe(200);
      expect(done.body).toMatchObject({ refundedFrom: 5, coins: 15, amount: '150' });
      await w.audit();
    });
  });
}
