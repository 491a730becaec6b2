import { TEST_DATABASES } from '@netpay/db/testing';
import { type Claim, signMessage, toBase64url } from '@netpay/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, boughtChain, type Customer, startWorld, type Vendor, type World } from './world.ts';

const NOW_S = (w: World) => Math.floor(w.clock() / 1000);

function indexFor(
  w: World,
  v: Vendor,
  chainId: string,
  index: number,
  payword: Uint8Array,
  handedTo: string | null,
) {
  return signMessage(
    'index',
    { v: 1, chainId, index, payword: toBase64url(payword), vendorId: v.id, handedTo, issuedAt: NOW_S(w) },
    v.signer,
  );
}

let claimCounter = 0;
function claimFor(
  w: World,
  v: Vendor,
  chainId: string,
  from: { index: number; payword: Uint8Array },
  to: { index: number; payword: Uint8Array },
  extra: Partial<Claim> = {},
): Claim {
  const id = new Uint8Array(16);
  new DataView(id.buffer).setUint32(0, ++claimCounter);
  id.set(new TextEncoder().encode(v.id).subarray(0, 12), 4);
  return signMessage(
    'claim',
    {
      v: 1,
      claimId: toBase64url(id),
      vendorId: v.id,
      chainId,
      from: { index: from.index, payword: toBase64url(from.payword) },
      to: { index: to.index, payword: toBase64url(to.payword) },
      issuedAt: NOW_S(w),
      ...extra,
    },
    v.signer,
  );
}

/** The vendor takes the chain through the directory (it becomes the holder). */
async function hold(w: World, v: Vendor, chainId: string) {
  const r = await w.call('POST', '/directory/claim', { signer: w.asVendor(v), body: { chainId } });
  expect(r.body.granted, JSON.stringify(r.body)).toBe(true);
}

for (const kind of TEST_DATABASES) {
  describe(`broker directory and redemption [${kind}]`, () => {
    let w: World;
    let alice: Customer;
    beforeAll(async () => {
      w = await startWorld(kind, { config: { feeBasisPoints: 200 } });
      alice = await w.newCustomer('alice', 10_000_000n, 1_000_000n);
    });
    afterAll(() => w?.close());
    afterEach(() => w.audit());

    it('registers vendors only with a request signed by their own key', async () => {
      const v = await w.newVendor();
      const again = await w.call('POST', '/parties', {
        signer: w.asVendor(v),
        body: { id: v.id, name: 'renamed', publicKey: toBase64url(v.signer.publicKey) },
      });
      expect(again.status).toBe(201);
      const other = await w.newVendor();
      const hijack = await w.call('POST', '/parties', {
        signer: w.asVendor(other),
        body: { id: v.id, name: 'x', publicKey: toBase64url(other.signer.publicKey) },
      });
      expect(hijack.status).toBe(401);
      const unsigned = await w.call('POST', '/directory/claim', { body: { chainId: 'A'.repeat(22) } });
      expect(unsigned.body.code).toBe('signature_missing');
      expect((await w.call('GET', `/parties/${v.id}`)).body).toMatchObject({ id: v.id, name: 'renamed' });
    });

    it('hands a chain from vendor to vendor through the directory and redeems both ranges', async () => {
      const a = await w.newVendor();
      const b = await w.newVendor();
      const chain = await boughtChain(w, alice, 50);
      const claimA = await w.call('POST', '/directory/claim', {
        signer: w.asVendor(a),
        body: { chainId: chain.chainId },
      });
      expect(claimA.body).toMatchObject({ granted: true, holder: { id: a.id } });
      const claimB = await w.call('POST', '/directory/claim', {
        signer: w.asVendor(b),
        body: { chainId: chain.chainId },
      });
      expect(claimB.body).toMatchObject({ granted: false, holder: { id: a.id } });
      expect(claimB.body.touchstone).toEqual(chain.touchstone);

      // A accepted coins 1..7, hands over at 7 to B.
      const wrongRecipient = indexFor(w, a, chain.chainId, 7, chain.words[7]!, 'someone-else');
      expect(
        (
          await w.call('POST', '/directory/handover', {
            signer: w.asVendor(b),
            body: { index: wrongRecipient },
          })
        ).body.code,
      ).toBe('wrong_recipient');
      const handed = indexFor(w, a, chain.chainId, 7, chain.words[7]!, b.id);
      const ho = await w.call('POST', '/directory/handover', {
        signer: w.asVendor(b),
        body: { index: handed },
      });
      expect(ho.body).toMatchObject({ granted: true, index: 7 });
      const backupByA = indexFor(w, a, chain.chainId, 9, chain.words[9]!, null);
      expect(
        (await w.call('POST', '/directory/backup', { signer: w.asVendor(a), body: { index: backupByA } }))
          .body.code,
      ).toBe('chain_not_held');
      const backupByB = indexFor(w, b, chain.chainId, 12, chain.words[12]!, null);
      expect(
        (await w.call('POST', '/directory/backup', { signer: w.asVendor(b), body: { index: backupByB } }))
          .body,
      ).toMatchObject({
        backupIndex: 12,
      });

      // B redeems (7, 12] first, then A redeems (0, 7]: out of order, both verified incrementally.
      const rb = await w.call('POST', '/redemptions', {
        signer: w.asVendor(b),
        body: {
          claims: [
            claimFor(
              w,
              b,
              chain.chainId,
              { index: 7, payword: chain.words[7]! },
              { index: 12, payword: chain.words[12]! },
            ),
          ],
        },
      });
      expect(rb.body.results[0]).toMatchObject({ status: 'credited', coins: 5, amount: '50', fee: '1' });
      const ra = await w.call('POST', '/redemptions', {
        signer: w.asVendor(a),
        body: {
          claims: [
            claimFor(
              w,
              a,
              chain.chainId,
              { index: 0, payword: chain.words[0]! },
              { index: 7, payword: chain.words[7]! },
            ),
          ],
        },
      });
      expect(ra.body.results[0]).toMatchObject({ status: 'credited', coins: 7, amount: '70', fee: '2' });
      const statement = await w.call('GET', '/parties/me/statement', { signer: w.asVendor(a) });
      expect(statement.body).toMatchObject({
        balance: '68',
        redeemed: { coins: 7, amount: '70', fees: '2' },
      });
    });

    it('refuses overlapping, forged, foreign and unheld claims, keeping evidence, and replays a claim id', async () => {
      const a = await w.newVendor();
      const b = await w.newVendor();
      const chain = await boughtChain(w, alice, 30);
      await hold(w, a, chain.chainId);
      const at = (i: number) => ({ index: i, payword: chain.words[i]! });
      const first = claimFor(w, a, chain.chainId, at(0), at(10));
      const r1 = await w.call('POST', '/redemptions', { signer: w.asVendor(a), body: { claims: [first] } });
      expect(r1.body.results[0].status).toBe('credited');
      const replay = await w.call('POST', '/redemptions', {
        signer: w.asVendor(a),
        body: { claims: [first] },
      });
      expect(replay.body.results[0]).toMatchObject({ status: 'credited', replayed: true });
      const overlap = claimFor(w, a, chain.chainId, at(5), at(15));
      const forged = claimFor(w, a, chain.chainId, at(10), { index: 20, payword: chain.words[21]! });
      const forB = claimFor(w, b, chain.chainId, at(20), at(22));
      const reusedId = { ...claimFor(w, a, chain.chainId, at(22), at(24)) };
      const r2 = await w.call('POST', '/redemptions', {
        signer: w.asVendor(a),
        body: { claims: [overlap, forged, forB, { junk: 1 }] },
      });
      expect(r2.body.results.map((r: { code?: string }) => r.code)).toEqual([
        'overlapping_claim',
        'payword_invalid',
        'wrong_vendor',
        'malformed',
      ]);
      const r3 = await w.call('POST', '/redemptions', { signer: w.asVendor(b), body: { claims: [forB] } });
      expect(r3.body.results[0].code).toBe('not_holder');
      // A claim id already used on another chain is refused, not a server error.
      const other = await boughtChain(w, alice, 5);
      await hold(w, a, other.chainId);
      const clash = signMessage(
        'claim',
        {
          ...claimFor(
            w,
            a,
            other.chainId,
            { index: 0, payword: other.words[0]! },
            { index: 5, payword: other.words[5]! },
          ),
          claimId: first.claimId,
          sig: undefined,
        } as never,
        a.signer,
      );
      const r4 = await w.call('POST', '/redemptions', {
        signer: w.asVendor(a),
        body: { claims: [clash, reusedId] },
      });
      expect(r4.status, JSON.stringify(r4.body)).toBe(200);
      expect(r4.body.results.map((r: { status: string; code?: string }) => r.code ?? r.status)).toEqual([
        'duplicate_claim_id',
        'credited',
      ]);
      const evidence = await w.call('GET', '/admin/evidence', { token: ADMIN });
      const reasons = evidence.body.evidence
        .filter((e: { chainId: string }) => e.chainId === chain.chainId)
        .map((e: { reason: string }) => e.reason);
      expect(reasons.sort()).toEqual(['not_holder', 'overlapping_claim', 'payword_invalid']);
      const stB = await w.call('GET', '/parties/me/statement', { signer: w.asVendor(b) });
      expect(stB.body.balance).toBe('0');
    });

    it('refuses paywords a vendor never held: backups and hand-overs must lie on the chain', async () => {
      const a = await w.newVendor();
      const b = await w.newVendor();
      const chain = await boughtChain(w, alice, 20);
      await hold(w, a, chain.chainId);
      const fake = indexFor(w, a, chain.chainId, 20, new Uint8Array(32), null);
      const r = await w.call('POST', '/directory/backup', { signer: w.asVendor(a), body: { index: fake } });
      expect(r.body).toMatchObject({ code: 'payword_invalid' });
      expect(r.status).toBe(422);
      const fakeHandover = indexFor(w, a, chain.chainId, 9, chain.words[10]!, b.id);
      const h = await w.call('POST', '/directory/handover', {
        signer: w.asVendor(b),
        body: { index: fakeHandover },
      });
      expect(h.body.code).toBe('payword_invalid');
      // b learned a's backup from the directory, but it never held those coins.
      await w.call('POST', '/directory/backup', {
        signer: w.asVendor(a),
        body: { index: indexFor(w, a, chain.chainId, 8, chain.words[8]!, null) },
      });
      const steal = claimFor(
        w,
        b,
        chain.chainId,
        { index: 0, payword: chain.words[0]! },
        { index: 8, payword: chain.words[8]! },
      );
      const s1 = await w.call('POST', '/redemptions', { signer: w.asVendor(b), body: { claims: [steal] } });
      expect(s1.body.results[0].code).toBe('not_holder');
      const honest = claimFor(
        w,
        a,
        chain.chainId,
        { index: 0, payword: chain.words[0]! },
        { index: 8, payword: chain.words[8]! },
      );
      const s2 = await w.call('POST', '/redemptions', { signer: w.asVendor(a), body: { claims: [honest] } });
      expect(s2.body.results[0].status).toBe('credited');
    });

    it('splits a redemption among payees by their shares', async () => {
      const operator = await w.newVendor();
      const label = await w.newVendor();
      const chain = await boughtChain(w, alice, 100, '50');
      await hold(w, label, chain.chainId);
      const claim = claimFor(
        w,
        label,
        chain.chainId,
        { index: 0, payword: chain.words[0]! },
        { index: 100, payword: chain.words[100]! },
        {
          payees: [
            { payeeId: operator.id, share: 1000 },
            { payeeId: label.id, share: 9000 },
          ],
        },
      );
      const r = await w.call('POST', '/redemptions', {
        signer: w.asVendor(label),
        body: { claims: [claim] },
      });
      expect(r.body.results[0]).toMatchObject({ status: 'credited', amount: '5000', fee: '100' });
      expect(
        (await w.call('GET', '/parties/me/statement', { signer: w.asVendor(operator) })).body.balance,
      ).toBe('490');
      expect((await w.call('GET', '/parties/me/statement', { signer: w.asVendor(label) })).body.balance).toBe(
        '4410',
      );
    });

    it("refunds only once the silent holder's lease is over, and charges back coins spent past the stated index", async () => {
      const a = await w.newVendor();
      const chain = await boughtChain(w, alice, 40);
      await w.call('POST', '/directory/claim', { signer: w.asVendor(a), body: { chainId: chain.chainId } });
      await w.call('POST', '/directory/backup', {
        signer: w.asVendor(a),
        body: { index: indexFor(w, a, chain.chainId, 15, chain.words[15]!, null) },
      });
      const before = (await w.call('GET', '/me', { token: alice.token })).body.balance;
      // The holder does not answer the broker's hand-over request (it has no URL): the refund waits.
      const pending = await w.call('POST', `/me/chains/${chain.chainId}/refund`, {
        token: alice.token,
        body: { spentIndex: 15 },
      });
      expect(pending.status).toBe(202);
      expect(pending.body).toMatchObject({ status: 'pending', chainId: chain.chainId });
      expect(pending.body.retryAfter).toBeGreaterThan(0);
      expect(pending.body.retryAfter).toBeLessThanOrEqual(10);
      // Meanwhile the holder's lease is not renewed, and no other vendor gets the chain.
      const backup = await w.call('POST', '/directory/backup', {
        signer: w.asVendor(a),
        body: { index: indexFor(w, a, chain.chainId, 15, chain.words[15]!, null) },
      });
      expect(backup.body).toMatchObject({ refunding: true });
      const other = await w.newVendor();
      const meet = await w.call('POST', '/directory/claim', {
        signer: w.asVendor(other),
        body: { chainId: chain.chainId },
      });
      expect(meet.body.code).toBe('chain_refunding');
      w.advance(10_001);
      const refund = await w.call('POST', `/me/chains/${chain.chainId}/refund`, {
        token: alice.token,
        body: { spentIndex: 15 },
      });
      expect(refund.status).toBe(200);
      expect(refund.body).toMatchObject({ refundedFrom: 15, coins: 25, amount: '250' });
      expect(BigInt(refund.body.balance) - BigInt(before)).toBe(250n);
      const late = await w.call('POST', '/directory/claim', {
        signer: w.asVendor(a),
        body: { chainId: chain.chainId },
      });
      expect(late.body.code).toBe('chain_refunded');
      const ok = claimFor(
        w,
        a,
        chain.chainId,
        { index: 0, payword: chain.words[0]! },
        { index: 15, payword: chain.words[15]! },
      );
      const r = await w.call('POST', '/redemptions', { signer: w.asVendor(a), body: { claims: [ok] } });
      expect(r.body.results[0].status).toBe('credited');
      // The holder accepted coins 16–20 under its lease but never backed them up; only alice could have
      // paid them, though she stated 15. The holder is paid; alice is charged back 5 coins.
      const beyond = claimFor(
        w,
        a,
        chain.chainId,
        { index: 15, payword: chain.words[15]! },
        { index: 20, payword: chain.words[20]! },
      );
      const r2 = await w.call('POST', '/redemptions', { signer: w.asVendor(a), body: { claims: [beyond] } });
      expect(r2.body.results[0]).toMatchObject({ status: 'credited', amount: '50' });
      const after = (await w.call('GET', '/me', { token: alice.token })).body.balance;
      expect(BigInt(after) - BigInt(refund.body.balance)).toBe(-50n);
      expect((await w.audit()).ok).toBe(true);
    });

    it("charges a double spender what its balance covers and books the rest as the broker's loss", async () => {
      const mallory = await w.newCustomer('mallory', 1_000_000n, 1_000n);
      const a = await w.newVendor();
      const chain = await boughtChain(w, mallory, 40); // 400 of her 1000
      await w.call('POST', '/directory/claim', { signer: w.asVendor(a), body: { chainId: chain.chainId } });
      w.advance(10_001);
      const refund = await w.call('POST', `/me/chains/${chain.chainId}/refund`, {
        token: mallory.token,
        body: { spentIndex: 15 }, // she spent 20 at a
      });
      expect(refund.body).toMatchObject({ refundedFrom: 15, balance: '850' });
      // She empties her balance before the holder redeems.
      const sent = await w.call('POST', '/me/transfers', {
        token: mallory.token,
        body: { to: alice.login, amount: '830' },
      });
      expect(sent.status, JSON.stringify(sent.body)).toBe(201);
      const fraudBefore = BigInt((await w.audit()).totals.fraud ?? '0');
      const claim = claimFor(
        w,
        a,
        chain.chainId,
        { index: 0, payword: chain.words[0]! },
        { index: 20, payword: chain.words[20]! },
      );
      const r = await w.call('POST', '/redemptions', { signer: w.asVendor(a), body: { claims: [claim] } });
      expect(r.body.results[0]).toMatchObject({ status: 'credited', amount: '200' });
      // 5 coins = 50 charged back: 20 from her balance, 30 from the broker's fraud account.
      expect((await w.call('GET', '/me', { token: mallory.token })).body.balance).toBe('0');
      const [cb] = await w.db.query<{ from_customer: bigint; from_broker: bigint }>(
        'SELECT from_customer, from_broker FROM charge_backs WHERE chain_id = $1',
        [chain.chainId],
      );
      expect(cb).toMatchObject({ from_customer: 20n, from_broker: 30n });
      const audit = await w.audit();
      expect(BigInt(audit.totals.fraud) - fraudBefore).toBe(-30n);
      const account = await w.call('GET', `/admin/chains/${chain.chainId}`, { token: ADMIN });
      expect(account.body).toMatchObject({
        chargedBack: '50',
        chargedBackCoins: 5,
        doubledCoins: 5,
        balanced: true,
      });
    });

    it('refunds at once from the stated index when nobody holds the chain, and never charges an honest customer', async () => {
      const a = await w.newVendor();
      const chain = await boughtChain(w, alice, 40);
      await w.call('POST', '/directory/claim', { signer: w.asVendor(a), body: { chainId: chain.chainId } });
      w.advance(10_001); // a's lease runs out: it stops accepting
      const refund = await w.call('POST', `/me/chains/${chain.chainId}/refund`, {
        token: alice.token,
        body: { spentIndex: 20 },
      });
      expect(refund.status).toBe(200);
      expect(refund.body).toMatchObject({ refundedFrom: 20, coins: 20 });
      const claim = claimFor(
        w,
        a,
        chain.chainId,
        { index: 0, payword: chain.words[0]! },
        { index: 20, payword: chain.words[20]! },
      );
      const r = await w.call('POST', '/redemptions', { signer: w.asVendor(a), body: { claims: [claim] } });
      expect(r.body.results[0]).toMatchObject({ status: 'credited', amount: '200' });
      expect((await w.call('GET', '/me', { token: alice.token })).body.balance).toBe(refund.body.balance);
    });

    it("takes a chain over from the backup only after the holder's lease has run out", async () => {
      const a = await w.newVendor();
      const b = await w.newVendor();
      const chain = await boughtChain(w, alice, 20);
      await w.call('POST', '/directory/claim', { signer: w.asVendor(a), body: { chainId: chain.chainId } });
      await w.call('POST', '/directory/backup', {
        signer: w.asVendor(a),
        body: { index: indexFor(w, a, chain.chainId, 4, chain.words[4]!, null) },
      });
      // The owner can see where its chain stands (to resync after a 409): spent index, holder, lease.
      const seen = await w.call('GET', `/me/chains/${chain.chainId}`, { token: alice.token });
      expect(seen.body).toMatchObject({ knownSpentIndex: 4, holder: { id: a.id }, refundPending: false });
      expect(seen.body.holder.leaseMs).toBeGreaterThan(0);
      const early = await w.call('POST', '/directory/takeover', {
        signer: w.asVendor(b),
        body: { chainId: chain.chainId },
      });
      expect(early.status).toBe(409);
      expect(early.body).toMatchObject({ code: 'lease_active' });
      w.advance(10_001);
      const t = await w.call('POST', '/directory/takeover', {
        signer: w.asVendor(b),
        body: { chainId: chain.chainId },
      });
      expect(t.body).toMatchObject({
        granted: true,
        previousHolder: a.id,
        backup: { index: 4, vendorId: a.id },
        start: { index: 4 },
      });
      const claimB = await w.call('POST', '/directory/claim', {
        signer: w.asVendor(b),
        body: { chainId: chain.chainId },
      });
      expect(claimB.body.granted).toBe(true);
      // a accepted 5–6 under its lease, b (from 4) 5–8: both are paid, alice is charged for 5–6 again.
      const fromA = claimFor(
        w,
        a,
        chain.chainId,
        { index: 0, payword: chain.words[0]! },
        { index: 6, payword: chain.words[6]! },
      );
      const fromB = claimFor(
        w,
        b,
        chain.chainId,
        { index: 4, payword: chain.words[4]! },
        { index: 8, payword: chain.words[8]! },
      );
      const before = BigInt((await w.call('GET', '/me', { token: alice.token })).body.balance);
      expect(
        (await w.call('POST', '/redemptions', { signer: w.asVendor(b), body: { claims: [fromB] } })).body
          .results[0].status,
      ).toBe('credited');
      expect(
        (await w.call('POST', '/redemptions', { signer: w.asVendor(a), body: { claims: [fromA] } })).body
          .results[0].status,
      ).toBe('credited');
      const after = BigInt((await w.call('GET', '/me', { token: alice.token })).body.balance);
      expect(before - after).toBe(2n * 10n);
      expect((await w.audit()).ok).toBe(true);
    });

    it('pays vendors out exactly once in a settlement run', async () => {
      const v = await w.newVendor();
      const chain = await boughtChain(w, alice, 100, '50');
      await hold(w, v, chain.chainId);
      await w.call('POST', '/redemptions', {
        signer: w.asVendor(v),
        body: {
          claims: [
            claimFor(
              w,
              v,
              chain.chainId,
              { index: 0, payword: chain.words[0]! },
              { index: 40, payword: chain.words[40]! },
            ),
          ],
        },
      });
      const run = await w.call('POST', '/admin/settlement/run', { token: ADMIN });
      expect(run.status).toBe(200);
      expect(run.body.sent).toBeGreaterThanOrEqual(1);
      expect((await w.bankClient.getAccount(v.bankToken, v.bankAccount)).balance).toBe(1960n);
      const again = await w.call('POST', '/admin/settlement/run', { token: ADMIN });
      expect(again.body.created).toBe(0);
      expect((await w.bankClient.getAccount(v.bankToken, v.bankAccount)).balance).toBe(1960n);
      const st = await w.call('GET', '/parties/me/statement', { signer: w.asVendor(v) });
      expect(st.body.balance).toBe('0');
      expect(st.body.payouts).toEqual([expect.objectContaining({ amount: '1960', status: 'sent' })]);
    });
  });
}
