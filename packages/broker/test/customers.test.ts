import { brokerApi, operationsIn, operationsOf } from '@netpay/api';
import { TEST_DATABASES } from '@netpay/db/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../src/accounts/totp.ts';
import { ADMIN, freshKey, startWorld, type World } from './world.ts';

for (const kind of TEST_DATABASES) {
  describe(`broker customers [${kind}]`, () => {
    let w: World;
    beforeAll(async () => {
      w = await startWorld(kind);
    });
    afterAll(() => w?.close());
    afterEach(() => w.audit());

    it('registers with a device code, then signs in on the verified device without one', async () => {
      const login = 'Alice@Example.com';
      const reg = await w.call('POST', '/customers', {
        body: { login, password: 'correct horse battery', deviceName: 'phone' },
      });
      expect(reg.status).toBe(201);
      expect(reg.body).toMatchObject({ verificationRequired: true });
      const code = await w.latestCode('alice@example.com');
      const v = await w.call('POST', `/devices/${reg.body.deviceId}/verify`, { body: { code } });
      expect(v.status).toBe(200);
      const me = await w.call('GET', '/me', { token: v.body.session.token });
      expect(me.body).toMatchObject({
        login: 'alice@example.com',
        balance: '0',
        currency: 'USD',
        exponent: 4,
      });

      const again = await w.call('POST', '/sessions', {
        body: { login: 'alice@example.com', password: 'correct horse battery', deviceId: reg.body.deviceId },
      });
      expect(again.status).toBe(200);
      expect(again.body.verificationRequired).toBe(false);
      const other = await w.call('POST', '/sessions', {
        body: { login, password: 'correct horse battery', deviceName: 'laptop' },
      });
      expect(other.body).toMatchObject({ verificationRequired: true });
      const wrong = await w.call('POST', '/sessions', { body: { login, password: 'wrong password!' } });
      expect(wrong.status).toBe(401);
      expect(wrong.body.code).toBe('invalid_credentials');
      const taken = await w.call('POST', '/customers', { body: { login, password: 'another password 1' } });
      expect(taken.status).toBe(409);
      expect(taken.body.code).toBe('login_taken');
    });

    it('limits wrong device codes and expires them', async () => {
      const login = '+14155550100';
      const reg = await w.call('POST', '/customers', { body: { login, password: 'correct horse battery' } });
      const right = await w.latestCode(login);
      const wrongCode = right === '000000' ? '111111' : '000000';
      for (let i = 0; i < 5; i++) {
        const r = await w.call('POST', `/devices/${reg.body.deviceId}/verify`, { body: { code: wrongCode } });
        expect(r.status).toBe(401);
        expect(r.body.details.attemptsLeft).toBe(4 - i);
      }
      const blocked = await w.call('POST', `/devices/${reg.body.deviceId}/verify`, { body: { code: right } });
      expect(blocked.body.code).toBe('too_many_attempts');
      const early = await w.call('POST', `/devices/${reg.body.deviceId}/code`);
      expect(early.status).toBe(429);
      expect(early.body.details.retryAfter).toBe(30);
      w.advance(30_000);
      const resent = await w.call('POST', `/devices/${reg.body.deviceId}/code`);
      expect(resent.status).toBe(202);
      w.advance(11 * 60_000);
      const expired = await w.call('POST', `/devices/${reg.body.deviceId}/verify`, {
        body: { code: await w.latestCode(login) },
      });
      expect(expired.body.code).toBe('code_expired');
      await w.call('POST', `/devices/${reg.body.deviceId}/code`);
      const ok = await w.call('POST', `/devices/${reg.body.deviceId}/verify`, {
        body: { code: await w.latestCode(login) },
      });
      expect(ok.status).toBe(200);
    });

    it("limits code resends per device, with back-off, and wrong codes over all of a device's codes", async () => {
      const register = async (name: string) => {
        const login = `${name}-${kind}@example.com`;
        const reg = await w.call('POST', '/customers', {
          body: { login, password: 'correct horse battery' },
        });
        const device = String(reg.body.deviceId);
        return {
          login,
          resend: () => w.call('POST', `/devices/${device}/code`),
          verify: (code: string) => w.call('POST', `/devices/${device}/verify`, { body: { code } }),
        };
      };
      const a = await register('resender');
      // The waits double: 30 s, 60 s, 120 s, 240 s; a resend too soon changes nothing and says how long.
      for (const wait of [30, 60, 120, 240]) {
        const soon = await a.resend();
        expect(soon.status).toBe(429);
        expect(soon.body).toMatchObject({ code: 'too_many_attempts', details: { retryAfter: wait } });
        expect(soon.headers.get('retry-after')).toBe(String(wait));
        w.advance(wait * 1000);
        expect((await a.resend()).status).toBe(202);
      }
      w.advance(3_600_000);
      expect((await a.resend()).body.code).toBe('too_many_attempts'); // five codes: no more for this device
      // Wrong codes count over all of a device's codes: a resend gives 5 more tries, not a fresh 10.
      const b = await register('guesser');
      const right = await w.latestCode(b.login);
      const wrongCode = right === '000000' ? '111111' : '000000';
      for (let i = 0; i < 5; i++) expect((await b.verify(wrongCode)).status).toBe(401);
      w.advance(30_000);
      expect((await b.resend()).status).toBe(202);
      for (let i = 0; i < 5; i++) expect((await b.verify(wrongCode)).status).toBe(401);
      w.advance(60_000);
      expect((await b.resend()).body.code).toBe('too_many_attempts');
      const dead = await b.verify(await w.latestCode(b.login));
      expect(dead.body.code).toBe('too_many_attempts');
    });

    it('locks a login after too many wrong passwords, for a while, even for the right one', async () => {
      const login = `guessed-${kind}@example.com`;
      const password = 'correct horse battery';
      expect((await w.call('POST', '/customers', { body: { login, password } })).status).toBe(201);
      const attempt = (p: string) => w.call('POST', '/sessions', { body: { login, password: p } });
      // A right password clears the count: 9 wrong, right, 9 wrong — not locked.
      for (let i = 0; i < 9; i++) expect((await attempt(`wrong password ${i}`)).status).toBe(401);
      expect((await attempt(password)).status).toBe(200);
      for (let i = 0; i < 9; i++) expect((await attempt(`wrong password ${i}`)).status).toBe(401);
      // The tenth wrong one locks it: the right password is refused too, until 15 minutes pass.
      expect((await attempt('wrong password 9')).status).toBe(401);
      const locked = await attempt(password);
      expect(locked.status).toBe(429);
      expect(locked.body).toMatchObject({ code: 'too_many_attempts' });
      expect(locked.body.message).toContain('try again in 15 minute(s)');
      // An unknown login is counted the same way (no telling which logins exist).
      const ghost = (p: string) =>
        w.call('POST', '/sessions', { body: { login: `ghost-${kind}@example.com`, password: p } });
      for (let i = 0; i < 10; i++) expect((await ghost(`wrong password ${i}`)).status).toBe(401);
      expect((await ghost('wrong password')).status).toBe(429);
      w.advance(15 * 60_000 + 1);
      expect((await attempt(password)).status).toBe(200);
      expect((await ghost('wrong password')).status).toBe(401);
    });

    it('counts attempts made at the same moment: no more than the limit are tried', async () => {
      const login = `flood-${kind}@example.com`;
      expect(
        (await w.call('POST', '/customers', { body: { login, password: 'correct horse battery' } })).status,
      ).toBe(201);
      const answers = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          w.call('POST', '/sessions', { body: { login, password: `wrong password ${i}` } }),
        ),
      );
      expect(answers.filter((a) => a.status === 401)).toHaveLength(10);
      expect(answers.filter((a) => a.status === 429)).toHaveLength(15);
      w.advance(15 * 60_000 + 1);
    });

    it('enforces TOTP once enrolled', async () => {
      const c = await w.newCustomer('totp');
      const enrol = await w.call('POST', '/me/totp', { token: c.token });
      const now = Math.floor(w.clock() / 1000);
      expect(
        (await w.call('POST', '/me/totp/confirm', { token: c.token, body: { code: '12345x' } })).status,
      ).toBe(400);
      const confirm = await w.call('POST', '/me/totp/confirm', {
        token: c.token,
        body: { code: totpCode(enrol.body.secret, now) },
      });
      expect(confirm.body).toEqual({ enabled: true });
      const noCode = await w.call('POST', '/sessions', {
        body: { login: c.login, password: 'correct horse battery' },
      });
      expect(noCode.body.code).toBe('totp_required');
      const withCode = await w.call('POST', '/sessions', {
        body: { login: c.login, password: 'correct horse battery', totp: totpCode(enrol.body.secret, now) },
      });
      expect(withCode.status).toBe(200);
      // Wrong codes with the right password count as failed sign-ins too: the eleventh attempt is refused.
      for (let i = 0; i < 10; i++) {
        const wrong = await w.call('POST', '/sessions', {
          body: { login: c.login, password: 'correct horse battery', totp: '000000' },
        });
        expect(wrong.body.code).toBe('totp_invalid');
      }
      const locked = await w.call('POST', '/sessions', {
        body: { login: c.login, password: 'correct horse battery', totp: totpCode(enrol.body.secret, now) },
      });
      expect(locked.status).toBe(429);
      w.advance(15 * 60_000 + 1);
    });

    it('rejects bad input with 4xx and a code, changing nothing', async () => {
      const before = await w.call('GET', '/admin/audit', { token: ADMIN });
      const cases: [string, string, unknown][] = [
        ['POST', '/customers', { login: 'not a login', password: 'correct horse battery' }],
        ['POST', '/customers', { login: 'x@example.com', password: 'short' }],
        ['POST', '/customers', { login: 'x@example.com', password: 'correct horse battery', extra: 1 }],
        ['POST', '/customers', '{"login": '],
        ['POST', '/customers', [1, 2]],
      ];
      for (const [method, path, body] of cases) {
        const r = await w.call(method, path, { body });
        expect(r.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(typeof r.body.code).toBe('string');
        expect(typeof r.body.message).toBe('string');
      }
      const missingKey = await w.call('POST', '/customers', {
        key: false,
        body: { login: 'k@example.com', password: 'correct horse battery' },
      });
      expect(missingKey.body.code).toBe('idempotency_key_required');
      expect((await w.call('GET', '/me')).status).toBe(401);
      expect((await w.call('GET', '/me', { token: 'nope' })).status).toBe(401);
      expect((await w.call('GET', '/admin/audit')).status).toBe(401);
      expect((await w.call('GET', '/nowhere')).body.code).toBe('not_found');
      const after = await w.call('GET', '/admin/audit', { token: ADMIN });
      expect(after.body.transfers).toBe(before.body.transfers);
    });

    it('serves OpenAPI docs, health and metrics', async () => {
      expect((await w.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
      const spec = await w.call('GET', '/docs/json');
      expect(spec.body.openapi).toMatch(/^3\./);
      // The document lists exactly the contract's routes (@netpay/api brokerApi), no more and no less.
      expect(operationsIn(spec.body)).toEqual(operationsOf(brokerApi));
      expect(operationsOf(brokerApi)).toEqual(
        expect.arrayContaining(['POST /customers', 'POST /redemptions']),
      );
      const metrics = await fetch(`${w.url}/metrics`).then((r) => r.text());
      expect(metrics).toContain('http_requests_total');
    });

    it('replays the same idempotency key and refuses it with another body', async () => {
      const key = freshKey();
      const body = { login: 'idem@example.com', password: 'correct horse battery' };
      const [a, b] = await Promise.all([
        w.call('POST', '/customers', { key, body }),
        w.call('POST', '/customers', { key, body }),
      ]);
      const statuses = [a.status, b.status].sort();
      // One registers; the other replays the answer or, if it arrived mid-flight, is told to retry.
      expect(statuses[0]).toBe(201);
      expect([201, 409]).toContain(statuses[1]);
      const replay = await w.call('POST', '/customers', { key, body });
      expect(replay.status).toBe(201);
      expect(replay.body.customerId).toBe(a.status === 201 ? a.body.customerId : b.body.customerId);
      const conflict = await w.call('POST', '/customers', {
        key,
        body: { ...body, login: 'other@example.com' },
      });
      expect(conflict.body.code).toBe('idempotency_conflict');
    });
  });
}
