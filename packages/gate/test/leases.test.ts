import { TEST_DATABASES } from '@netpay/db/testing';
import { fromBase64url, HEADERS, type Payment, toBase64url } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boughtChain, type Customer, clientChain, startWorld, type World } from '../../broker/test/world.ts';
import { checkChains, checkI1, Receipts } from './invariants.ts';
import { type RunningVendor, startVendor } from './vendor-world.ts';

/**
 * Holdings as leases and refunds as a hand-over (docs/protocol.md §8.4, §8.6), with real vendor servers
 * behind fronts that can drop or hold the broker's and other vendors' requests. After each scenario the
 * invariants I1–I4 are checked from the ledger and the vendors' own records.
 */
for (const kind of TEST_DATABASES) {
  describe(`leases and refunds [${kind}]`, () => {
    let w: World;
    let alice: Customer;
    let a: RunningVendor;
    let b: RunningVendor;
    const receipts = new Receipts();
    const chains: string[] = [];
    beforeAll(async () => {
      w = await startWorld(kind, { config: { handoverTimeoutMs: 500 } });
      alice = await w.newCustomer('leaser', 1_000_000n, 100_000n);
      a = await startVendor(w, kind, 50n, { front: true });
      b = await startVendor(w, kind, 50n, { front: true });
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await w?.close();
    });

    async function chainOf(n: number) {
      const c = await boughtChain(w, alice, n);
      chains.push(c.chainId);
      return c;
    }

    /** Pays vendor v coins up to `index` (5 coins a payment), keeping the receipt. */
    async function pay(v: RunningVendor, c: { pay: (i: number) => Payment }, index: number) {
      return receipts.keep(v.id, await v.buy(c.pay(index)));
    }

    const refund = (chainId: string, spentIndex: number) =>
      w.call('POST', `/me/chains/${chainId}/refund`, { token: alice.token, body: { spentIndex } });

    it('refunds right after a payment from the holder’s final index; the holder then refuses with fresh terms', async () => {
      const c = await chainOf(40);
      expect(await pay(a, c, 5)).toBe(200);
      expect(await pay(a, c, 10)).toBe(200);
      // No backup was pushed: only the holder knows coins 1–10 were spent. It answers the broker's request.
      const r = await refund(c.chainId, 10);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ refundedFrom: 10, coins: 30, amount: '300' });
      const after = await a.buy(c.pay(15));
      expect(after.status).toBe(402);
      expect(((await after.json()) as { code: string }).code).toBe('chain_refunded');
      const terms = after.headers.get(HEADERS.terms);
      expect(terms).toBeTruthy();
      expect(JSON.parse(Buffer.from(terms!, 'base64url').toString())).toMatchObject({ price: '50' });
      await checkI1(a, receipts);
      await checkChains(w, chains, [alice.customerId]);
    });

    it('refunds a chain whose holder is down once its lease is over, and pays the holder what it accepted', async () => {
      const c = await chainOf(40);
      expect(await pay(a, c, 5)).toBe(200);
      a.front!.set('drop');
      const pending = await refund(c.chainId, 5);
      expect(pending.status).toBe(202);
      expect(pending.body.retryAfter).toBeGreaterThan(0);
      expect(pending.body.retryAfter).toBeLessThanOrEqual(10);
      // The broker renews no lease meanwhile, and no other vendor gets the chain.
      const atB = await b.buy(c.pay(10));
      expect(atB.status).toBe(402);
      expect(((await atB.json()) as { code: string }).code).toBe('chain_refunded');
      w.advance(10_001);
      const done = await refund(c.chainId, 5);
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ refundedFrom: 5, coins: 35 });
      a.front!.set('pass');
      await checkI1(a, receipts);
      await checkI1(b, receipts);
      await checkChains(w, chains, [alice.customerId]);
    });

    it('a slow holder accepts only until its lease runs out; coins spent past the stated index are charged back', async () => {
      const liar = await w.newCustomer('liar', 1_000_000n, 100_000n);
      const chain = clientChain(40);
      const bought = await w.call('POST', '/me/chains', {
        token: liar.token,
        body: { chains: [{ coinValue: '10', n: 40, chainId: chain.chainId, root: chain.root }] },
      });
      expect(bought.status).toBe(201);
      chains.push(chain.chainId);
      const words = [fromBase64url(chain.root)!];
      for (let i = 1; i <= 40; i++) words.push(chain.traversal.next()!.payword);
      const c = {
        pay: (index: number): Payment => ({
          v: 1,
          parts: [{ chainId: chain.chainId, index, payword: toBase64url(words[index]!) }],
        }),
      };
      expect(await pay(a, c, 5)).toBe(200);
      a.front!.set('hold'); // the broker's hand-over request reaches the holder only much later
      const pending = await w.call('POST', `/me/chains/${chain.chainId}/refund`, {
        token: liar.token,
        body: { spentIndex: 5 },
      });
      expect(pending.status).toBe(202);
      // The holder is alive and its lease still runs: it accepts (and receipts) coins 6–10.
      expect(await pay(a, c, 10)).toBe(200);
      w.advance(10_001);
      // Its lease is over and the broker will not renew it: it stops accepting.
      const late = await a.buy(c.pay(15));
      expect(late.status).toBe(402);
      expect(((await late.json()) as { code: string }).code).toBe('chain_refunded');
      const before = BigInt((await w.call('GET', '/me', { token: liar.token })).body.balance);
      const done = await w.call('POST', `/me/chains/${chain.chainId}/refund`, {
        token: liar.token,
        body: { spentIndex: 5 },
      });
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ refundedFrom: 5, coins: 35 });
      a.front!.release();
      a.front!.set('pass');
      // The holder redeems all ten coins it receipted; the liar pays coins 6–10 twice over: charged back.
      await checkI1(a, receipts);
      const after = BigInt((await w.call('GET', '/me', { token: liar.token })).body.balance);
      expect(after - before).toBe(350n - 50n);
      await checkChains(w, chains, [alice.customerId]);
    });

    it('takes a chain over from a partitioned holder only after its lease; a double spend pays both vendors and charges the owner', async () => {
      const c = await chainOf(40);
      expect(await pay(a, c, 5)).toBe(200);
      expect((await a.redeemer.backup()).pushed).toBe(1); // the broker knows coins 1–5
      expect(await pay(a, c, 10)).toBe(200); // 6–10: only a knows
      a.front!.set('drop');
      const busy = await b.buy(c.pay(15));
      expect(busy.status).toBe(409);
      expect(((await busy.json()) as { code: string }).code).toBe('chain_busy');
      w.advance(10_001);
      // b takes the chain over from the backup (5). An honest wallet pays b from 11 on: b wants 5 coins
      // from its state, so 11–15 is too much and nothing is taken.
      const honest = await b.buy(c.pay(15));
      expect(honest.status).toBe(402);
      // Re-spending 6–10 at b (a double spend) is accepted by b under its lease.
      expect(await pay(b, c, 10)).toBe(200);
      a.front!.set('pass');
      await checkI1(b, receipts);
      await checkI1(a, receipts);
      const [cb] = await w.db.query<{ coins: number }>('SELECT coins FROM charge_backs WHERE chain_id = $1', [
        c.chainId,
      ]);
      expect(cb?.coins).toBe(5);
      // (alice double spent here on purpose: she is not an honest customer for this chain)
      await checkChains(w, chains, []);
    });

    it('refuses a take-over inside a live lease', async () => {
      const c = await chainOf(20);
      expect(await pay(a, c, 5)).toBe(200);
      const t = await w.call('POST', '/directory/takeover', {
        signer: { id: b.id, signer: b.signer },
        body: { chainId: c.chainId },
      });
      expect(t.status).toBe(409);
      expect(t.body).toMatchObject({ code: 'lease_active' });
      expect(t.body.details.retryAfter).toBeGreaterThan(0);
      // a renews its lease with a backup; it keeps the chain.
      expect((await a.redeemer.backup()).pushed).toBeGreaterThanOrEqual(1);
      w.advance(9_000);
      const again = await w.call('POST', '/directory/takeover', {
        signer: { id: b.id, signer: b.signer },
        body: { chainId: c.chainId },
      });
      expect(again.body.code).toBe('lease_active');
    });
    it('reconciles: the statement flags every receipted coin the broker did not credit', async () => {
      const v = await startVendor(w, kind);
      try {
        const c = await chainOf(20);
        expect(await pay(v, c, 5)).toBe(200);
        await v.redeemer.redeem();
        expect(await pay(v, c, 10)).toBe(200);
        expect(await v.redeemer.statement()).toMatchObject({
          accepted: '100',
          redeemed: '50',
          awaitingRedemption: '50',
          missing: '0',
          broker: { credited: '50', matches: true },
        });
        // The vendor waits too long: past expiry and grace its claim is refused, and the loss shows.
        w.advance((90 + 15) * 86_400_000);
        await v.redeemer.redeem();
        const st = await v.redeemer.statement();
        expect(st).toMatchObject({ accepted: '100', redeemed: '50', awaitingRedemption: '0', missing: '50' });
        expect(st.missingRanges).toEqual([
          { chainId: c.chainId, fromIndex: 5, toIndex: 10, code: 'claim_too_late', amount: '50' },
        ]);
      } finally {
        await v.close();
      }
    });
  });
}
