/**
 * The known failures of issue 18 §3, found by a security test of the running demo, each answered now with a
 * 4xx and a documented code: a NUL in a login or device name (was an unauthenticated 500 from PostgreSQL),
 * JSON nested 100,000 deep to POST /redemptions under a fake signature (was a 500: the recursive body
 * hash overflowed the stack), and look-alike logins (a full-width `ａlice` registered as a new account).
 */
import { migrate } from '@netpay/db';
import { openTestDatabase, TEST_DATABASES } from '@netpay/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_MIGRATIONS } from '../src/migrations.ts';
import { startWorld, type World } from './world.ts';

const PASSWORD = 'correct horse battery';

for (const kind of TEST_DATABASES) {
  describe(`broker hostile input, known failures [${kind}]`, () => {
    let w: World;
    beforeAll(async () => {
      w = await startWorld(kind);
    });
    afterAll(() => w?.close());

    it('refuses a NUL or control character in login or deviceName with 400 invalid_characters', async () => {
      const bodies: [string, Record<string, string>][] = [
        ['/customers', { login: 'nul\u0000@example.com', password: PASSWORD, deviceName: 'phone' }],
        ['/customers', { login: 'nul@example.com', password: PASSWORD, deviceName: 'ph\u0000one' }],
        ['/customers', { login: 'nul@example.com', password: PASSWORD, deviceName: 'ph\u001bone' }],
        ['/sessions', { login: 'nul\u0000@example.com', password: PASSWORD }],
        ['/sessions', { login: 'nul@example.com', password: PASSWORD, deviceName: '\u0000' }],
        ['/sessions', { login: 'nul@example.com', password: `${PASSWORD}\u0000` }],
      ];
      for (const [path, body] of bodies) {
        const r = await w.call('POST', path, { body });
        expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
        expect(r.body.code).toBe('invalid_characters');
      }
      // In a query string too (the dev outbox looks its recipient up in the database).
      const q = await w.call('GET', '/dev/outbox?recipient=a%00b');
      expect(q.status).toBe(400);
      expect(q.body.code).toBe('invalid_characters');
      await w.audit();
    });

    it('refuses JSON nested 100,000 deep to POST /redemptions before the signature is checked', async () => {
      const vendor = await w.newVendor();
      const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
      const body = `{"claims":${deep}}`;
      expect(body.length).toBeLessThan(1024 * 1024); // under the route's body limit
      const r = await w.call('POST', '/redemptions', {
        body,
        headers: { 'netpay-key-id': vendor.id, 'netpay-timestamp': '1', 'netpay-signature': 'AAAA' },
      });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('json_too_deep');
      // Signed correctly, 33 deep: refused before anything hashes it too.
      const claims = JSON.parse(`${'['.repeat(33)}${']'.repeat(33)}`);
      const signed = await w.call('POST', '/redemptions', { body: { claims }, signer: w.asVendor(vendor) });
      expect(signed.status).toBe(400);
      expect(signed.body.code).toBe('json_too_deep');
      await w.audit();
    });

    it('stores logins in NFKC lower case: a full-width look-alike is the same account', async () => {
      const alice = await w.newCustomer('alice');
      const [local, domain] = alice.login.split('@') as [string, string];
      const fullWidth = `ａ${local.slice(1)}@${domain}`.toUpperCase();
      const again = await w.call('POST', '/customers', {
        body: { login: fullWidth, password: PASSWORD, deviceName: 'phone' },
      });
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('login_taken');
      const signIn = await w.call('POST', '/sessions', {
        body: { login: fullWidth, password: PASSWORD, deviceName: 'laptop' },
      });
      expect(signIn.status, JSON.stringify(signIn.body)).toBe(200);

      // A send to the full-width spelling reaches the same account.
      const bob = await w.newCustomer('bob', 1_000_000n, 100_000n);
      const sent = await w.call('POST', '/me/transfers', {
        token: bob.token,
        body: { to: fullWidth, amount: '500' },
      });
      expect(sent.status, JSON.stringify(sent.body)).toBe(201);
      const me = await w.call('GET', '/me', { token: alice.token });
      expect(me.body.balance).toBe('500');
      await w.audit();
    });

    it('refuses invisible characters, mixed scripts and Latin look-alikes with 400 login_confusable', async () => {
      const refused = [
        'аlice@example.com', // Cyrillic а, then Latin
        'al\u200bice@example.com', // zero-width space
        'alice\u202e@example.com', // right-to-left override
        'ali\u00adce@example.com', // soft hyphen
        'alice@exаmple.com', // Cyrillic а in the domain
        'раураl@example.com', // all Cyrillic, every letter a Latin look-alike
        'alice@ехаmрlе.com', // mixed in a domain label
        'ονκ@example.com', // all Greek, every letter a Latin look-alike
      ];
      for (const login of refused) {
        const r = await w.call('POST', '/customers', {
          body: { login, password: PASSWORD, deviceName: 'x' },
        });
        expect(r.status, login).toBe(400);
        expect(r.body.code, login).toBe('login_confusable');
      }
      // One script per part is fine, as are Latin with Han and kana, and a phone in full-width digits.
      for (const login of [
        'иван@example.com',
        'müller@example.de',
        '山田たろう@example.jp',
        '＋１４１５５５５０１７７',
      ]) {
        const r = await w.call('POST', '/customers', {
          body: { login, password: PASSWORD, deviceName: 'x' },
        });
        expect(r.status, `${login}: ${JSON.stringify(r.body)}`).toBe(201);
      }
      expect((await w.call('GET', '/dev/outbox?recipient=%2B14155550177')).body.messages).toHaveLength(1);

      // Sending to a look-alike is refused the same way, before anything moves.
      const bob = await w.newCustomer('bob', 1_000_000n, 10_000n);
      const r = await w.call('POST', '/me/transfers', {
        token: bob.token,
        body: { to: 'аlice@example.com', amount: '1' },
      });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('login_confusable');
      await w.audit();
    });
  });

  it(`migrates logins registered before the rule to their normal form [${kind}]`, async () => {
    const db = await openTestDatabase(kind);
    try {
      const RULE = '20261212_0300_normalized_logins';
      await migrate(
        db,
        BROKER_MIGRATIONS.filter((m) => m.id < RULE),
      );
      const add = (id: string, login: string) =>
        db.query('INSERT INTO customers (id, login, password_hash, created_at) VALUES ($1, $2, $3, 0)', [
          id,
          login,
          'x',
        ]);
      await add('cus_1', 'ｃarol@example.com'); // full-width, alone: rewritten
      await add('cus_2', 'dave@example.com'); // in normal form already: kept
      await add('cus_3', 'ｄave@example.com'); // its look-alike: left for the operator
      await add('cus_4', 'ｅve@example.com'); // two look-alikes of a free login: the first id takes it
      await add('cus_5', 'eｖe@example.com');
      await migrate(db, BROKER_MIGRATIONS);
      const rows = await db.query<{ id: string; login: string }>(
        'SELECT id, login FROM customers ORDER BY id',
      );
      expect(Object.fromEntries(rows.map((r) => [r.id, r.login]))).toMatchObject({
        cus_1: 'carol@example.com',
        cus_2: 'dave@example.com',
        cus_3: 'ｄave@example.com',
        cus_4: 'eve@example.com',
        cus_5: 'eｖe@example.com',
      });
    } finally {
      await db.close();
    }
  });
}
