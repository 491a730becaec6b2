/**
 * Who may register a vendor (docs/broker.md §6.4): outside dev mode a new party needs an operator's
 * invitation, used once; in dev mode registration is open unless the config says `registration: invitation`.
 */
import { TEST_DATABASES } from '@netpay/db/testing';
import { createSigner, randomBytes, toBase64url } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerConfigInput, BrokerConfigSchema } from '../src/config.ts';
import { registrationOpen } from '../src/parties/invitations.ts';
import { ADMIN, startWorld, type World } from './world.ts';

for (const kind of TEST_DATABASES) {
  describe(`vendor registration by invitation [${kind}]`, () => {
    let w: World;
    beforeAll(async () => {
      w = await startWorld(kind, { config: { dev: false } });
    });
    afterAll(() => w?.close());

    const party = () => {
      const signer = createSigner(randomBytes(32));
      const id = `shop-${toBase64url(randomBytes(4))}`;
      const register = (invitation?: string, as = id) =>
        w.call('POST', '/parties', {
          signer: { id: as, signer },
          body: {
            id: as,
            name: 'A shop',
            publicKey: toBase64url(signer.publicKey),
            ...(invitation ? { invitation } : {}),
          },
        });
      return { id, signer, register };
    };
    const invite = async (body: Record<string, unknown> = {}) => {
      const r = await w.call('POST', '/admin/invitations', { token: ADMIN, body });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body as { token: string; kind: string; partyId: string | null; expiresAt: string };
    };
    const parties = async () =>
      Number((await w.db.query<{ n: number }>('SELECT count(*)::int AS n FROM parties'))[0]!.n);

    it('refuses a new vendor without an invitation, and changes nothing', async () => {
      const before = await parties();
      const r = await party().register();
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ code: 'invitation_required' });
      expect(r.body.message).toMatch(/invitation/);
      expect(await parties()).toBe(before);
    });

    it('registers with an invitation once; the invitation cannot be used again', async () => {
      const inv = await invite();
      expect(inv).toMatchObject({ kind: 'vendor', partyId: null });
      expect(inv.token).toMatch(/^inv_[A-Za-z0-9_-]{32}$/);
      expect(Date.parse(inv.expiresAt) - w.clock()).toBe(7 * 86_400_000);
      const a = party();
      expect((await a.register(inv.token)).status).toBe(201);
      // Registering again with its own key (a restart) needs none.
      expect((await a.register()).status).toBe(201);
      const b = party();
      const reused = await b.register(inv.token);
      expect(reused.status).toBe(403);
      expect(reused.body).toMatchObject({ code: 'invitation_invalid' });
      expect(reused.body.message).toContain('used already');
    });

    it('holds an invitation to its party id, its kind and its expiry', async () => {
      const a = party();
      const forA = await invite({ partyId: a.id });
      const stranger = await party().register(forA.token);
      expect(stranger.body).toMatchObject({ code: 'invitation_invalid' });
      expect(stranger.body.message).toContain(a.id);
      expect((await a.register(forA.token)).status).toBe(201);

      const forPeer = await invite({ kind: 'peer' });
      const asVendor = await party().register(forPeer.token);
      expect(asVendor.body).toMatchObject({ code: 'invitation_invalid' });

      const short = await invite({ expiresInSeconds: 60 });
      w.advance(61_000);
      const late = await party().register(short.token);
      expect(late.body).toMatchObject({ code: 'invitation_invalid' });
      expect(late.body.message).toContain('expired');

      const unknown = await party().register(`inv_${'A'.repeat(32)}`);
      expect(unknown.body).toMatchObject({ code: 'invitation_invalid' });
    });

    it('makes invitations for the operator only, from a checked request', async () => {
      expect((await w.call('POST', '/admin/invitations', { body: {} })).status).toBe(401);
      const bad = await w.call('POST', '/admin/invitations', {
        token: ADMIN,
        body: { expiresInSeconds: 10, kind: 'bank' },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('bad_request');
    });
  });
}

describe('vendor registration in dev mode', () => {
  // (Every other broker test runs in dev mode and registers its vendors with no invitation.)
  it('is open unless the config asks for invitations', () => {
    const open = (c: BrokerConfigInput) => registrationOpen({ config: BrokerConfigSchema.parse(c) });
    expect(open({ dev: true })).toBe(true);
    expect(open({})).toBe(false);
    expect(open({ dev: true, registration: 'invitation' })).toBe(false);
    expect(open({ dev: false, registration: 'open' })).toBe(true);
  });
});
