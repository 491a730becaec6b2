import { TEST_DATABASES } from '@netpay/db/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clientChain, freshKey, startWorld, type World } from './world.ts';

for (const kind of TEST_DATABASES) {
  describe(`broker money [${kind}]`, () => {
    let w: World;
    beforeAll(async () => {
      w = await startWorld(kind);
    });
    afterAll(() => w?.close());
    afterEach(() => w.audit());

    it('loads from the bank exactly once per idempotency key', async () => {
      const c = await w.newCustomer('loader', 500_000n);
      const key = freshKey();
      const body = { amount: '200000', bankAccount: c.bankAccount, bankToken: c.bankToken };
      const first = await w.call('POST', '/me/load', { token: c.token, key, body });
      expect(first.body).toMatchObject({ amount: '200000', balance: '200000' });
      const again = await w.call('POST', '/me/load', { token: c.token, key, body });
      expect(again.body.balance).toBe('200000');
      expect((await w.bankClient.getAccount(c.bankToken, c.bankAccount)).balance).toBe(300_000n);
      const other = await w.call('POST', '/me/load', {
        token: c.token,
        key,
        body: { ...body, amount: '1000' },
      });
      expect(other.body.code).toBe('idempotency_conflict');
      const tooMuch = await w.call('POST', '/me/load', {
        token: c.token,
        body: { ...body, amount: '400000' },
      });
      expect(tooMuch.status).toBe(422);
      expect(tooMuch.body.code).toBe('bank_rejected');
      const tooSmall = await w.call('POST', '/me/load', { token: c.token, body: { ...body, amount: '1' } });
      expect(tooSmall.body.code).toBe('limit_exceeded');
      const badToken = await w.call('POST', '/me/load', {
        token: c.token,
        body: { ...body, bankToken: 'wrong' },
      });
      expect(badToken.body.code).toBe('bank_rejected');
      for (const amount of ['1.5', '-5', '0x10', 5]) {
        const r = await w.call('POST', '/me/load', { token: c.token, body: { ...body, amount } });
        expect(r.status, String(amount)).toBe(400);
      }
      expect((await w.call('GET', '/me', { token: c.token })).body.balance).toBe('200000');
    });

    it('sells client-side and server-side chains in denominations, signed by the current key', async () => {
      const c = await w.newCustomer('buyer', 1_000_000n, 100_000n);
      const a = clientChain(100);
      const r = await w.call('POST', '/me/chains', {
        token: c.token,
        body: {
          chains: [
            { coinValue: '5', n: 100, chainId: a.chainId, root: a.root },
            { coinValue: '10', n: 50 },
          ],
        },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body).toMatchObject({ total: '1000', balance: '99000' });
      expect(r.body.chains[0]).toMatchObject({
        chainId: a.chainId,
        serverSide: false,
        touchstone: { root: a.root, n: 100, coinValue: '5' },
      });
      expect(r.body.chains[1].serverSide).toBe(true);
      const keys = await w.call('GET', '/keys');
      expect(keys.body.keys.map((k: { keyId: string }) => k.keyId)).toContain(
        r.body.chains[0].touchstone.keyId,
      );
      const list = await w.call('GET', '/me/chains', { token: c.token });
      expect(list.body.chains).toHaveLength(2);

      const bad = [
        [{ coinValue: '7', n: 10 }, 'bad_denomination'],
        [{ coinValue: '5', n: 10, chainId: a.chainId }, 'bad_request'],
        [{ coinValue: '5', n: 10, chainId: a.chainId, root: a.root }, 'chain_exists'],
        [{ coinValue: '50', n: 100_000 }, 'limit_exceeded'],
        [{ coinValue: '50', n: 2000 }, 'insufficient_funds'],
      ] as const;
      for (const [order, code] of bad) {
        const x = await w.call('POST', '/me/chains', { token: c.token, body: { chains: [order] } });
        expect(x.body.code, JSON.stringify(order)).toBe(code);
      }
      expect((await w.call('GET', '/me', { token: c.token })).body.balance).toBe('99000');
    });

    it('rotates keys while old touchstones stay verifiable', async () => {
      const c = await w.newCustomer('rotator', 1_000_000n, 10_000n);
      const before = await w.call('POST', '/me/chains', {
        token: c.token,
        body: { chains: [{ coinValue: '1', n: 10 }] },
      });
      const rotated = await w.call('POST', '/admin/keys/rotate', {
        token: 'admin-token-for-tests-0123456789',
      });
      expect(rotated.status).toBe(200);
      const after = await w.call('POST', '/me/chains', {
        token: c.token,
        body: { chains: [{ coinValue: '1', n: 10 }] },
      });
      const oldKey = before.body.chains[0].touchstone.keyId;
      expect(after.body.chains[0].touchstone.keyId).not.toBe(oldKey);
      const listed = (await w.call('GET', '/keys')).body.keys;
      expect(listed.find((k: { keyId: string }) => k.keyId === oldKey).retiredAt).not.toBeNull();
    });

    it('sends money to another user, refunds unspent coins and unloads to the bank', async () => {
      const a = await w.newCustomer('sender', 1_000_000n, 50_000n);
      const b = await w.newCustomer('receiver', 0n);
      const sent = await w.call('POST', '/me/transfers', {
        token: a.token,
        body: { to: b.login, amount: '2000' },
      });
      expect(sent.status).toBe(201);
      expect((await w.call('GET', '/me', { token: b.token })).body.balance).toBe('2000');
      expect(
        (
          await w.call('POST', '/me/transfers', {
            token: a.token,
            body: { to: 'nobody@example.com', amount: '1' },
          })
        ).body.code,
      ).toBe('recipient_not_found');
      expect(
        (await w.call('POST', '/me/transfers', { token: b.token, body: { to: a.login, amount: '2001' } }))
          .body.code,
      ).toBe('insufficient_funds');

      const bought = await w.call('POST', '/me/chains', {
        token: a.token,
        body: { chains: [{ coinValue: '10', n: 100 }] },
      });
      const chainId = bought.body.chains[0].chainId;
      const refunded = await w.call('POST', `/me/chains/${chainId}/refund`, {
        token: a.token,
        body: { spentIndex: 0 },
      });
      expect(refunded.body).toMatchObject({ coins: 100, amount: '1000', balance: '48000' });
      const twice = await w.call('POST', `/me/chains/${chainId}/refund`, {
        token: a.token,
        body: { spentIndex: 0 },
      });
      expect(twice.body.code).toBe('chain_refunded');
      expect(
        (await w.call('POST', `/me/chains/${chainId}/refund`, { token: b.token, body: { spentIndex: 0 } }))
          .body.code,
      ).toBe('chain_not_found');

      const key = freshKey();
      const un = await w.call('POST', '/me/unload', {
        token: a.token,
        key,
        body: { amount: '48000', bankAccount: a.bankAccount },
      });
      expect(un.body).toMatchObject({ balance: '0' });
      await w.call('POST', '/me/unload', {
        token: a.token,
        key,
        body: { amount: '48000', bankAccount: a.bankAccount },
      });
      expect((await w.bankClient.getAccount(a.bankToken, a.bankAccount)).balance).toBe(
        1_000_000n - 50_000n + 48_000n,
      );
      const statement = await w.call('GET', '/me/statement', { token: a.token });
      expect(statement.body.entries.map((e: { kind: string }) => e.kind)).toEqual([
        'load',
        'send',
        'buy_coins',
        'refund',
        'unload',
      ]);
    });

    it('keeps the minimum balance and the outstanding-coins limit', async () => {
      const w2 = await startWorld(kind, {
        config: { limits: { minBalance: '1000', maxOutstanding: '3000', minTransaction: '5' } },
      });
      try {
        const c = await w2.newCustomer('limited', 1_000_000n, 10_000n);
        const over = await w2.call('POST', '/me/chains', {
          token: c.token,
          body: { chains: [{ coinValue: '50', n: 61 }] },
        });
        expect(over.body.code).toBe('limit_exceeded');
        const ok = await w2.call('POST', '/me/chains', {
          token: c.token,
          body: { chains: [{ coinValue: '50', n: 60 }] },
        });
        expect(ok.status).toBe(201);
        const more = await w2.call('POST', '/me/chains', {
          token: c.token,
          body: { chains: [{ coinValue: '1', n: 1 }] },
        });
        expect(more.body.code).toBe('limit_exceeded');
        const other = await w2.newCustomer('payee');
        const keep = await w2.call('POST', '/me/transfers', {
          token: c.token,
          body: { to: other.login, amount: '6500' },
        });
        expect(keep.body.code).toBe('insufficient_funds'); // 10000 − 3000 − 6500 < the 1000 to keep
        const small = await w2.call('POST', '/me/transfers', {
          token: c.token,
          body: { to: other.login, amount: '4' },
        });
        expect(small.body.code).toBe('limit_exceeded');
        const fine = await w2.call('POST', '/me/transfers', {
          token: c.token,
          body: { to: other.login, amount: '6000' },
        });
        expect(fine.status).toBe(201);
        await w2.audit();
      } finally {
        await w2.close();
      }
    });
  });
}
