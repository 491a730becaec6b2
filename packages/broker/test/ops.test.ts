import { TEST_DATABASES } from '@netpay/db/testing';
import { signMessage, toBase64url } from '@netpay/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBroker } from '../src/app.ts';
import { type Bank, bankUnavailable } from '../src/bank.ts';
import { ADMIN, clientChain, startWorld, type World } from './world.ts';

/** A bank adapter that can be down, or can lose its answers after doing the transfer. */
function flaky(bank: Bank) {
  const mode = { down: false, loseAnswers: false, calls: 0 };
  const wrapped: Bank = {
    async transfer(req) {
      mode.calls++;
      if (mode.down) throw bankUnavailable('bank is down (test)');
      const r = await bank.transfer(req);
      if (mode.loseAnswers) throw bankUnavailable('answer lost (test)');
      return r;
    },
    findTransfer: (key, token) => bank.findTransfer(key, token),
  };
  return { mode, wrapped };
}

for (const kind of TEST_DATABASES) {
  describe(`broker operations [${kind}]`, () => {
    let w: World;
    let f: ReturnType<typeof flaky>;
    beforeAll(async () => {
      w = await startWorld(kind, {
        wrapBank: (b) => {
          f = flaky(b);
          return f.wrapped;
        },
        config: { chainLifetimeSeconds: 3600, redemptionGraceSeconds: 600, payoutBackoffSeconds: 1 },
      });
    });
    afterAll(() => w?.close());
    afterEach(() => {
      f.mode.down = false;
      f.mode.loseAnswers = false;
      return w.audit();
    });

    async function vendorWithEarnings(coins: number) {
      const c = await w.newCustomer('spender', 1_000_000n, 100_000n);
      const v = await w.newVendor();
      const chain = clientChain(coins);
      await w.call('POST', '/me/chains', {
        token: c.token,
        body: { chains: [{ coinValue: '10', n: coins, chainId: chain.chainId, root: chain.root }] },
      });
      const held = await w.call('POST', '/directory/claim', {
        signer: w.asVendor(v),
        body: { chainId: chain.chainId },
      });
      expect(held.body.granted).toBe(true);
      let last: Uint8Array = new Uint8Array(0);
      for (let i = 0; i < coins; i++) last = chain.traversal.next()!.payword;
      const claim = signMessage(
        'claim',
        {
          v: 1,
          claimId: toBase64url(crypto.getRandomValues(new Uint8Array(16))),
          vendorId: v.id,
          chainId: chain.chainId,
          from: { index: 0, payword: chain.root },
          to: { index: coins, payword: toBase64url(last) },
          issuedAt: Math.floor(w.clock() / 1000),
        },
        v.signer,
      );
      const r = await w.call('POST', '/redemptions', { signer: w.asVendor(v), body: { claims: [claim] } });
      expect(r.body.results[0].status).toBe('credited');
      return { c, v, net: BigInt(r.body.results[0].amount) - BigInt(r.body.results[0].fee) };
    }

    it('serves the public configuration and signs customers out', async () => {
      const cfg = await w.call('GET', '/config');
      expect(cfg.body).toMatchObject({ currency: 'USD', exponent: 4, denominations: ['1', '5', '10', '50'] });
      const c = await w.newCustomer('leaver');
      expect((await w.call('DELETE', '/sessions/current', { token: c.token, key: false })).status).toBe(204);
      expect((await w.call('GET', '/me', { token: c.token })).status).toBe(401);
    });

    it('pays out exactly once when the bank loses its answer, on the next run', async () => {
      const { v, net } = await vendorWithEarnings(50);
      f.mode.loseAnswers = true;
      const first = await w.call('POST', '/admin/settlement/run', { token: ADMIN });
      expect(first.body).toMatchObject({ created: 1, sent: 0, retrying: 1 });
      expect((await w.bankClient.getAccount(v.bankToken, v.bankAccount)).balance).toBe(net);
      f.mode.loseAnswers = false;
      w.advance(5_000);
      const second = await w.call('POST', '/admin/settlement/run', { token: ADMIN });
      expect(second.body).toMatchObject({ created: 0, sent: 1 });
      expect((await w.bankClient.getAccount(v.bankToken, v.bankAccount)).balance).toBe(net);
      const runs = await w.call('GET', '/admin/settlement/runs', { token: ADMIN });
      expect(runs.body.runs.length).toBeGreaterThanOrEqual(2);
    });

    it('finishes a batch after a restart, paying each vendor once', async () => {
      const { v, net } = await vendorWithEarnings(30);
      f.mode.down = true;
      const run = await w.broker.services.settlement.run();
      expect(run).toMatchObject({ created: 1, sent: 0, retrying: 1 });
      // A new broker process over the same database picks the pending payout up.
      f.mode.down = false;
      w.advance(5_000);
      const restarted = createBroker({ db: w.db, clock: w.clock, bank: f.wrapped, config: w.broker.config });
      const again = await restarted.services.settlement.run();
      expect(again).toMatchObject({ created: 0, sent: 1 });
      expect((await w.bankClient.getAccount(v.bankToken, v.bankAccount)).balance).toBe(net);
    });

    it('resends a pending unload with the same key and never twice', async () => {
      const c = await w.newCustomer('unloader', 1_000_000n, 20_000n);
      f.mode.loseAnswers = true;
      const r = await w.call('POST', '/me/unload', {
        token: c.token,
        body: { amount: '5000', bankAccount: c.bankAccount },
      });
      expect(r.status).toBe(503);
      expect(r.body.code).toBe('bank_unavailable');
      f.mode.loseAnswers = false;
      w.advance(120_000);
      const rec = await w.call('POST', '/admin/reconcile', { token: ADMIN });
      expect(rec.body.retried).toBeGreaterThanOrEqual(1);
      expect((await w.bankClient.getAccount(c.bankToken, c.bankAccount)).balance).toBe(
        1_000_000n - 20_000n + 5_000n,
      );
      expect((await w.call('GET', '/me', { token: c.token })).body.balance).toBe('15000');
    });

    it('completes a load whose answer was lost when the customer retries with the same key', async () => {
      const c = await w.newCustomer('retrier', 1_000_000n);
      const key = 'load-retry-key-0001';
      const body = { amount: '30000', bankAccount: c.bankAccount, bankToken: c.bankToken };
      f.mode.loseAnswers = true;
      expect((await w.call('POST', '/me/load', { token: c.token, key, body })).status).toBe(503);
      f.mode.loseAnswers = false;
      const retry = await w.call('POST', '/me/load', { token: c.token, key, body });
      expect(retry.body.balance).toBe('30000');
      expect((await w.bankClient.getAccount(c.bankToken, c.bankAccount)).balance).toBe(970_000n);
    });

    it('completes a load whose answer was lost when the reconcile job finds it at the bank', async () => {
      const c = await w.newCustomer('reconciled', 1_000_000n);
      f.mode.loseAnswers = true;
      const r = await w.call('POST', '/me/load', {
        token: c.token,
        body: { amount: '40000', bankAccount: c.bankAccount, bankToken: c.bankToken },
      });
      expect(r.status).toBe(503);
      f.mode.loseAnswers = false;
      expect((await w.call('GET', '/me', { token: c.token })).body.balance).toBe('0');
      w.advance(120_000);
      await w.call('POST', '/admin/reconcile', { token: ADMIN });
      expect((await w.call('GET', '/me', { token: c.token })).body.balance).toBe('40000');
      expect((await w.bankClient.getAccount(c.bankToken, c.bankAccount)).balance).toBe(960_000n);
    });

    it('closes expired chains after the grace period, refunding what was not redeemed', async () => {
      const c = await w.newCustomer('expirer', 1_000_000n, 10_000n);
      const bought = await w.call('POST', '/me/chains', {
        token: c.token,
        body: { chains: [{ coinValue: '5', n: 100 }] },
      });
      expect(bought.status).toBe(201);
      w.advance(3600_000 + 1);
      const early = await w.call('POST', '/admin/expiry/run', { token: ADMIN });
      expect(early.body.closed).toBe(0);
      w.advance(600_000);
      const closed = await w.call('POST', '/admin/expiry/run', { token: ADMIN });
      expect(closed.body.closed).toBeGreaterThanOrEqual(1);
      expect((await w.call('GET', '/me', { token: c.token })).body.balance).toBe('10000');
      const chains = await w.call('GET', '/me/chains', { token: c.token });
      expect(chains.body.chains[0].status).toBe('closed');
    });

    it('keeps the dev outbox closed outside dev mode', async () => {
      const prod = await startWorld(kind, { config: { dev: false } });
      try {
        const r = await prod.call('GET', '/dev/outbox');
        expect(r.status).toBe(404);
      } finally {
        await prod.close();
      }
    });
  });
}
