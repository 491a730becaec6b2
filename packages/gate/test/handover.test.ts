import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TEST_DATABASES } from '@netpay/db/testing';
import {
  createSigner,
  decodeHeader,
  encodeHeader,
  HEADERS,
  signMessage,
  toBase64url,
  verifyMessageSignature,
} from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boughtChain, type Customer, startWorld, type World } from '../../broker/test/world.ts';
import { type RunningVendor, startVendor } from './vendor-world.ts';

/** Hand-over between two real vendor servers through the broker's directory (DESIGN.md §3). */
for (const kind of TEST_DATABASES) {
  describe(`vendor hand-over [${kind}]`, () => {
    let w: World;
    let alice: Customer;
    let a: RunningVendor;
    let b: RunningVendor;
    beforeAll(async () => {
      w = await startWorld(kind);
      alice = await w.newCustomer('walker', 1_000_000n, 100_000n);
      a = await startVendor(w, kind);
      b = await startVendor(w, kind);
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await w?.close();
    });

    const chainOf = (n: number) => boughtChain(w, alice, n);

    function claim(v: RunningVendor, chainId: string, words: Uint8Array[], from: number, to: number) {
      return signMessage(
        'claim',
        {
          v: 1,
          claimId: toBase64url(crypto.getRandomValues(new Uint8Array(16))),
          vendorId: v.id,
          chainId,
          from: { index: from, payword: toBase64url(words[from]!) },
          to: { index: to, payword: toBase64url(words[to]!) },
          issuedAt: Math.floor(w.clock() / 1000),
        },
        v.signer,
      );
    }

    it('pays A, then B, then A again: each vendor takes the chain over from the other', async () => {
      const c = await chainOf(40);
      expect((await a.buy(c.pay(5))).status).toBe(200);
      const atB = await b.buy(c.pay(10));
      expect(atB.status, await atB.clone().text()).toBe(200);
      expect((await a.store.get(c.chainId))!.status).toBe('handed');
      expect((await b.store.get(c.chainId))!).toMatchObject({
        status: 'held',
        startIndex: 5,
        acceptedIndex: 10,
      });
      // A no longer holds it: a replayed payword is refused at A.
      const back = await a.buy(c.pay(15));
      expect(back.status, await back.clone().text()).toBe(200);
      expect((await b.store.get(c.chainId))!.status).toBe('handed');
      expect((await a.store.get(c.chainId))!).toMatchObject({
        status: 'held',
        startIndex: 10,
        acceptedIndex: 15,
      });
      expect(await a.store.pendingRanges()).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ chain_id: c.chainId, from_index: 0, to_index: 5 }),
        ]),
      );

      // Each vendor redeems exactly its own holdings.
      const ra = await w.call('POST', '/redemptions', {
        signer: { id: a.id, signer: a.signer },
        body: { claims: [claim(a, c.chainId, c.words, 0, 5), claim(a, c.chainId, c.words, 10, 15)] },
      });
      expect(ra.body.results.map((r: { status: string }) => r.status)).toEqual(['credited', 'credited']);
      const stolen = await w.call('POST', '/redemptions', {
        signer: { id: a.id, signer: a.signer },
        body: { claims: [claim(a, c.chainId, c.words, 5, 10)] },
      });
      expect(stolen.body.results[0].code).toBe('not_holder');
      const rb = await w.call('POST', '/redemptions', {
        signer: { id: b.id, signer: b.signer },
        body: { claims: [claim(b, c.chainId, c.words, 5, 10)] },
      });
      expect(rb.body.results[0].status).toBe('credited');
      await w.audit();
    });

    it('redeems every holding of every vendor with the redeemer, once', async () => {
      // Settle what earlier tests left (some of it redeemed by hand there, so refused here).
      await a.redeemer.redeem();
      await b.redeemer.redeem();
      const c = await chainOf(40);
      for (const [v, i] of [
        [a, 5],
        [b, 10],
        [a, 15],
      ] as const) {
        expect((await v.buy(c.pay(i))).status).toBe(200);
      }
      const pushed = await a.redeemer.backup();
      expect(pushed.pushed).toBeGreaterThanOrEqual(1);
      const ra = await a.redeemer.redeem();
      expect(ra).toMatchObject({ credited: 2, rejected: 0 });
      const rb = await b.redeemer.redeem();
      expect(rb).toMatchObject({ credited: 1, rejected: 0 });
      expect((await a.redeemer.redeem()).claims).toBe(0);
      const stA = await w.call('GET', '/parties/me/statement', { signer: { id: a.id, signer: a.signer } });
      expect(stA.body.redeemed.coins).toBeGreaterThanOrEqual(10);
      await w.audit();
    });

    it('refuses at the old holder coins the new holder accepted (double spending by replay)', async () => {
      const c = await chainOf(30);
      expect((await a.buy(c.pay(5))).status).toBe(200);
      expect((await b.buy(c.pay(10))).status).toBe(200);
      // The customer replays B's payment at B and tries coins below B's start at B: both refused.
      const replayAtB = await b.buy(c.pay(5));
      expect(replayAtB.status).toBe(409);
      expect((await replayAtB.json()).code).toBe('index_not_advancing');
    });

    it('takes a chain over through the broker when the holder is unreachable', async () => {
      const c = await chainOf(30);
      const gone = await startVendor(w, kind);
      expect((await gone.buy(c.pay(5))).status).toBe(200);
      // The holder pushes a backup, then goes away.
      const backup = signMessage(
        'index',
        {
          v: 1,
          chainId: c.chainId,
          index: 5,
          payword: toBase64url(c.words[5]!),
          vendorId: gone.id,
          handedTo: null,
          issuedAt: Math.floor(w.clock() / 1000),
        },
        gone.signer,
      );
      expect(
        (
          await w.call('POST', '/directory/backup', {
            signer: { id: gone.id, signer: gone.signer },
            body: { index: backup },
          })
        ).status,
      ).toBe(200);
      await gone.close();
      // The holder does not answer, but its lease runs: it may still be accepting, so nobody takes over.
      const busy = await a.buy(c.pay(10));
      expect(busy.status).toBe(409);
      expect(((await busy.json()) as { code: string }).code).toBe('chain_busy');
      expect(Number(busy.headers.get('retry-after'))).toBeGreaterThan(0);
      w.advance(10_001);
      const r = await a.buy(c.pay(10));
      expect(r.status, await r.clone().text()).toBe(200);
      expect((await a.store.get(c.chainId))!).toMatchObject({
        status: 'held',
        startIndex: 5,
        acceptedIndex: 10,
      });
    });

    it('signs the receipt when asked and echoes the Idempotency-Key as its requestId', async () => {
      const c = await chainOf(20);
      const plain = await a.buy(c.pay(5));
      const unsigned = decodeHeader('receipt', plain.headers.get(HEADERS.receipt)!);
      expect(unsigned.ok && unsigned.value.sig).toBeUndefined();
      const r = await fetch(`${a.url}/item`, {
        headers: {
          [HEADERS.payment]: encodeHeader(c.pay(10)),
          'NetPay-Receipt-Signature': 'ed25519',
          'Idempotency-Key': 'req-0001',
        },
      });
      expect(r.status).toBe(200);
      const receipt = decodeHeader('receipt', r.headers.get(HEADERS.receipt)!);
      expect(receipt.ok).toBe(true);
      if (!receipt.ok) return;
      expect(receipt.value).toMatchObject({ requestId: 'req-0001', vendorId: a.id });
      expect(verifyMessageSignature('receipt', receipt.value, a.signer.publicKey)).toBe(true);
    });

    it('serves hand-over requests strictly: malformed, misaddressed, forged and replayed ones are refused', async () => {
      const c = await chainOf(20);
      expect((await a.buy(c.pay(5))).status).toBe(200);
      const request = (holder: string, signer = b.signer) =>
        signMessage(
          'handover-request',
          {
            v: 1,
            chainId: c.chainId,
            holder,
            requester: b.id,
            nonce: toBase64url(crypto.getRandomValues(new Uint8Array(16))),
            issuedAt: Math.floor(w.clock() / 1000),
          },
          signer,
        );
      const codeOf = async (body: unknown) => {
        const r = await a.gate.serveHandover(body);
        return [r.status, (r.body as { code?: string }).code ?? 'ok'];
      };
      expect(await codeOf({ junk: true })).toEqual([400, 'malformed']);
      expect(await codeOf(request('someone-else'))).toEqual([403, 'wrong_recipient']);
      expect(await codeOf(request(a.id, a.signer))).toEqual([403, 'bad_signature']);
      const good = request(a.id);
      const first = await a.gate.serveHandover(good);
      expect(first.status).toBe(200);
      expect(await codeOf(good)).toEqual([409, 'replayed_request']);
      // The same requester asks again (its answer was lost): the same index, not a refusal.
      const again = await a.gate.serveHandover(request(a.id));
      expect(again.status).toBe(200);
      expect((again.body as { index: unknown }).index).toEqual((first.body as { index: unknown }).index);
    });

    it('does not take a chain over from a holder that answers, even with an error', async () => {
      const stub = createServer((_req, res) => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"code":"busy","message":"try later"}');
      });
      await new Promise<void>((r) => stub.listen(0, '127.0.0.1', () => r()));
      try {
        const signer = createSigner(crypto.getRandomValues(new Uint8Array(32)));
        const id = `busy-${Date.now()}`;
        const url = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
        const reg = await w.call('POST', '/parties', {
          signer: { id, signer },
          body: { id, name: id, publicKey: toBase64url(signer.publicKey), url },
        });
        expect(reg.status).toBe(201);
        const c = await chainOf(20);
        const held = await w.call('POST', '/directory/claim', {
          signer: { id, signer },
          body: { chainId: c.chainId },
        });
        expect(held.body.granted).toBe(true);
        const r = await a.buy(c.pay(5));
        expect(r.status).toBe(409);
        expect((await r.json()).code).toBe('chain_not_held');
        const still = await w.call('POST', '/directory/claim', {
          signer: { id, signer },
          body: { chainId: c.chainId },
        });
        expect(still.body).toMatchObject({ granted: true, holder: { id } });
      } finally {
        await new Promise((r) => stub.close(r));
      }
    });

    it('hands a chain over while payments race at both vendors, accepting every coin once', async () => {
      const c = await chainOf(60);
      expect((await a.buy(c.pay(5))).status).toBe(200);
      const results = await Promise.all([a.buy(c.pay(10)), b.buy(c.pay(10))]);
      const ok = results.filter((r) => r.status === 200);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      const heldByA = (await a.store.get(c.chainId))!;
      const heldByB = (await b.store.get(c.chainId))!;
      // Exactly one of them holds the chain, at index 10.
      expect([heldByA.status, heldByB?.status].filter((s) => s === 'held')).toHaveLength(1);
      const holder = heldByA.status === 'held' ? heldByA : heldByB;
      expect(holder.acceptedIndex).toBe(10);
    });
  });
}
