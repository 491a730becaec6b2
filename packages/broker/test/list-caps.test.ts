/**
 * Lists are capped (issue 18 §3, docs/broker.md §13): a customer's chains come a page of at most 500 at a
 * time with a cursor, and a party's statement lists its newest 100 payouts with totals over all of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Customer, startWorld, type World } from './world.ts';

describe('capped lists [pglite]', () => {
  let w: World;
  let alice: Customer;
  let bob: Customer;
  beforeAll(async () => {
    w = await startWorld('pglite');
    alice = await w.newCustomer('alice', 1_000_000n, 100_000n);
    bob = await w.newCustomer('bob', 1_000_000n, 100_000n);
  });
  afterAll(async () => {
    await w?.close();
  });

  it('pages a customer’s chains, oldest first, with `next` until the last page', async () => {
    const bought = await w.call('POST', '/me/chains', {
      token: alice.token,
      body: { chains: [1, 2, 3].map(() => ({ coinValue: '10', n: 10 })) },
    });
    expect(bought.status, JSON.stringify(bought.body)).toBe(201);
    const ids = bought.body.chains.map((c: { chainId: string }) => c.chainId);

    const all = await w.call('GET', '/me/chains', { token: alice.token });
    expect(all.body.chains.map((c: { chainId: string }) => c.chainId).sort()).toEqual([...ids].sort());
    expect(all.body.next).toBeNull();
    const order = all.body.chains.map((c: { chainId: string }) => c.chainId);

    const first = await w.call('GET', '/me/chains?limit=2', { token: alice.token });
    expect(first.body.chains.map((c: { chainId: string }) => c.chainId)).toEqual(order.slice(0, 2));
    expect(first.body.next).toBe(order[1]);
    const second = await w.call('GET', `/me/chains?limit=2&after=${first.body.next}`, { token: alice.token });
    expect(second.body.chains.map((c: { chainId: string }) => c.chainId)).toEqual(order.slice(2));
    expect(second.body.next).toBeNull();

    // Another customer's chain as the cursor lists nothing of theirs.
    const foreign = await w.call('GET', `/me/chains?after=${order[0]}`, { token: bob.token });
    expect(foreign.status).toBe(200);
    expect(foreign.body).toEqual({ chains: [], next: null });
    for (const bad of ['limit=0', 'limit=501', 'limit=1e2', 'limit=-1', 'after=nope', 'other=1']) {
      const r = await w.call('GET', `/me/chains?${bad}`, { token: alice.token });
      expect(r.status, bad).toBe(400);
      expect(r.body.code, bad).toBe('bad_request');
    }
  });

  it('lists a party’s newest 100 payouts and totals them all', async () => {
    const v = await w.newVendor();
    const empty = await w.call('GET', '/parties/me/statement', { signer: w.asVendor(v) });
    expect(empty.body).toMatchObject({ paidOut: '0', payoutsPending: '0', payouts: [] });

    // 120 payouts of a past run, as settlement would have left them: 110 sent, 10 pending.
    await w.db.query("INSERT INTO payout_runs (id, started_at, finished_at) VALUES ('run_caps', 1, 2)");
    for (let i = 0; i < 120; i++) {
      await w.db.query(
        `INSERT INTO payouts (id, run_id, party_id, bank_account, amount, status, next_attempt_at, created_at)
         VALUES ($1, 'run_caps', $2, $3, $4::int8, $5, 0, $6::int8)`,
        [
          `payout_caps_${i}`,
          v.id,
          v.bankAccount,
          BigInt(i + 1),
          i < 110 ? 'sent' : 'pending',
          BigInt(1000 + i),
        ],
      );
    }
    const st = await w.call('GET', '/parties/me/statement', { signer: w.asVendor(v) });
    expect(st.status).toBe(200);
    expect(st.body.payouts).toHaveLength(100);
    expect(st.body.payouts[0].id).toBe('payout_caps_119');
    expect(st.body.payouts[99].id).toBe('payout_caps_20');
    // 1 + … + 110 sent; 111 + … + 120 pending.
    expect(st.body.paidOut).toBe(String((110 * 111) / 2));
    expect(st.body.payoutsPending).toBe(String((120 * 121) / 2 - (110 * 111) / 2));
  });
});
