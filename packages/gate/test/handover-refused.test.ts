import { TEST_DATABASES } from '@netpay/db/testing';
import { fromBase64url, type Payment, toBase64url } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Customer, clientChain, startWorld, type World } from '../../broker/test/world.ts';
import { checkChains, checkI1, Receipts } from './invariants.ts';
import { type RunningVendor, startVendor } from './vendor-world.ts';

/**
 * A hand-over the holder answers but the broker refuses (docs/protocol.md §8.3, §8.6): the new vendor
 * records its holding while the broker records the hand-over (chains/handover-in.ts), so a refusal must
 * end that holding again — it accepts no coin of the chain, and the refund starts at the holder's index.
 */
for (const kind of TEST_DATABASES) {
  describe(`hand-over refused by the broker [${kind}]`, () => {
    let w: World;
    let alice: Customer;
    let a: RunningVendor;
    let b: RunningVendor;
    const receipts = new Receipts();
    beforeAll(async () => {
      w = await startWorld(kind);
      alice = await w.newCustomer('refunder', 1_000_000n, 100_000n);
      a = await startVendor(w, kind, 50n, { front: true });
      b = await startVendor(w, kind, 50n);
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await w?.close();
    });

    it('ends the new holding when the hand-over arrives during a refund, and accepts nothing of the chain', async () => {
      const chain = clientChain(40);
      const bought = await w.call('POST', '/me/chains', {
        token: alice.token,
        body: { chains: [{ coinValue: '10', n: 40, chainId: chain.chainId, root: chain.root }] },
      });
      expect(bought.status).toBe(201);
      const words = [fromBase64url(chain.root)!];
      for (let i = 1; i <= 40; i++) words.push(chain.traversal.next()!.payword);
      const pay = (index: number): Payment => ({
        v: 1,
        parts: [{ chainId: chain.chainId, index, payword: toBase64url(words[index]!) }],
      });
      expect(receipts.keep(a.id, await a.buy(pay(5)))).toBe(200);
      // B asks A for the chain; A's answer is held up on the way…
      a.front!.set('hold');
      const atB = b.buy(pay(10));
      await expect.poll(() => a.front!.holding()).toBe(1);
      // …while alice asks for a refund, which the broker cannot ask A for: it waits for A's lease.
      a.front!.set('drop');
      const pending = await w.call('POST', `/me/chains/${chain.chainId}/refund`, {
        token: alice.token,
        body: { spentIndex: 5 },
      });
      expect(pending.status, JSON.stringify(pending.body)).toBe(202);
      // A hands the chain to B at 5; the broker records that A stopped there, but gives B nothing.
      a.front!.release();
      const refused = await atB;
      expect(refused.status).toBe(402);
      expect(((await refused.json()) as { code: string }).code).toBe('chain_refunded');
      expect((await a.store.get(chain.chainId))?.status).toBe('handed');
      expect((await b.store.reload(chain.chainId))?.status).not.toBe('held');
      const again = await b.buy(pay(10));
      expect(again.status).toBe(402);
      a.front!.set('pass');
      const done = await w.call('POST', `/me/chains/${chain.chainId}/refund`, {
        token: alice.token,
        body: { spentIndex: 5 },
      });
      expect(done.status, JSON.stringify(done.body)).toBe(200);
      expect(done.body).toMatchObject({ refundedFrom: 5, coins: 35 });
      await checkI1(a, receipts);
      await checkI1(b, receipts);
      await checkChains(w, [chain.chainId], [alice.customerId]);
    });
  });
}
