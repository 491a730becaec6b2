/** `netpay demo` (what `npm start` runs) as a real process: everything answers, data persists, --reset. */
import { join } from 'node:path';
import { createSigner, randomBytes, toBase64url } from '@netpay/protocol';
import { signRequest } from '@netpay/service';
import { describe, expect, it } from 'vitest';
import { firstLine, processScope } from './testing.ts';

describe('netpay demo (npm start)', () => {
  const { dir, start } = processScope('netpay-demo-');
  const demo = async (...extra: string[]) => {
    const run = start(['demo', '--port', '0', '--json', '--data', join(dir, 'demo'), ...extra]);
    return { run, info: JSON.parse(await firstLine(run, 90_000)) };
  };

  // Three demo starts of four servers, two from empty folders (an initdb per server): on a busy 2-core
  // machine that can take over a minute, the default limit.
  it('starts the bank, the broker and two vendor sites with demo accounts, and stops on Ctrl-C', {
    timeout: 240_000,
  }, async () => {
    const { run, info } = await demo();
    for (const url of [
      info.urls.bank,
      info.urls.broker,
      info.urls.greetings,
      info.urls.music,
      info.urls.wallet,
    ]) {
      expect((await fetch(`${url}/healthz`)).status, url).toBe(200);
    }
    // The shops' pages embed the web wallet's script (NetPay.fetch).
    const greetingsPage = await (await fetch(`${info.urls.greetings}/`)).text();
    expect(greetingsPage).toContain('<h1>E-greetings</h1>');
    expect(greetingsPage).toContain(`<script src="${info.urls.wallet}/netpay.js">`);
    expect(await (await fetch(`${info.urls.music}/`)).text()).toContain('Stream it');
    expect((await fetch(`${info.urls.wallet}/netpay.js`)).status).toBe(200);
    expect(await (await fetch(info.urls.wallet)).text()).toContain('NetPay wallet');
    expect(await (await fetch(`${info.urls.wallet}/config.json`)).json()).toMatchObject({
      broker: info.urls.broker,
    });
    const card = await fetch(`${info.urls.greetings}/cards/birthday.html`);
    expect(card.status).toBe(402);
    expect((await card.json()).terms).toMatchObject({ vendorId: 'e-greetings', price: '50' });
    const track = await (await fetch(`${info.urls.music}/tracks/morning.wav`)).json();
    expect(track.terms.payees).toEqual([
      { payeeId: 'e-music', share: 2000 },
      { payeeId: 'demo-label', share: 7000 },
      { payeeId: 'demo-operator', share: 1000 },
    ]);
    // The demo customers can sign in with the printed password (a new device asks for its code).
    const alice = info.customers[0];
    const login = await fetch(`${info.urls.broker}/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ login: alice.login, password: alice.password }),
    });
    expect(login.status).toBe(200);
    expect(await login.json()).toMatchObject({ verificationRequired: true });
    // The JSON line carries what the text mode prints: the admin token and each customer's bank token.
    expect(alice.bankToken).toMatch(/^bkt_/);
    const audit = await fetch(`${info.urls.broker}/admin/audit`, {
      headers: { authorization: `Bearer ${info.adminToken}` },
    });
    expect((await audit.json()).ok).toBe(true);
    expect(info.secrets).toBe(join(dir, 'demo', 'secrets.json'));
    // Every service serves its API description, the shops too.
    for (const url of [info.urls.broker, info.urls.bank, info.urls.greetings, info.urls.music])
      expect((await fetch(`${url}/docs/json`)).status, url).toBe(200);
    // The demo's broker lets no one register a vendor without an invitation (its own shops had one).
    const signer = createSigner(randomBytes(32));
    const body = { id: 'self-made-shop', name: 'x', publicKey: toBase64url(signer.publicKey) };
    const selfMade = await fetch(`${info.urls.broker}/parties`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': 'demo-test-self-made',
        ...signRequest(
          signer,
          body.id,
          { method: 'POST', path: '/parties', body },
          Math.floor(Date.now() / 1000),
        ),
      },
      body: JSON.stringify(body),
    });
    expect(selfMade.status).toBe(403);
    expect((await selfMade.json()).code).toBe('invitation_required');
    run.child.kill('SIGINT');
    expect((await run.exit).code).toBe(0);

    // Data persists between runs; --reset starts over with new accounts.
    const again = await demo();
    expect(again.info.customers[0].bankAccount).toBe(alice.bankAccount);
    again.run.child.kill('SIGTERM');
    expect((await again.run.exit).code).toBe(0);
    const fresh = await demo('--reset');
    expect(fresh.info.customers[0].bankAccount).not.toBe(alice.bankAccount);
    fresh.run.child.kill('SIGTERM');
    expect((await fresh.run.exit).code).toBe(0);
  });
});
