import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url } from './bytes.ts';
import { chainStepper } from './chain.ts';
import type { Claim, PaymentPart } from './messages.ts';
import type { Result } from './result.ts';
import { signMessage, type Unsigned } from './sign.ts';
import { broker, flipBit, keys, makeChain, makeIndex, NOW, vendorA, vendorB } from './test-helpers.ts';
import {
  brokerKeyring,
  initialChainState,
  verifyClaim,
  verifyIndex,
  verifyPayment,
  verifyTouchstone,
} from './verify.ts';

const code = (r: Result<unknown>) => (r.ok ? 'ok' : r.error.code);

describe('verifyTouchstone', () => {
  const { touchstone } = makeChain(10);

  it('accepts a touchstone signed by a known broker key within its validity', () => {
    expect(verifyTouchstone(touchstone, keys, NOW)).toEqual({ ok: true, value: touchstone });
  });

  it('rejects unknown keys, bad signatures, expired and future touchstones', () => {
    const otherKeys = brokerKeyring([{ brokerId: 'broker.test', keyId: 'k2', publicKey: broker.publicKey }]);
    expect(code(verifyTouchstone(touchstone, otherKeys, NOW))).toBe('wrong_broker_key');
    const wrongKey = brokerKeyring([{ brokerId: 'broker.test', keyId: 'k1', publicKey: vendorA.publicKey }]);
    expect(code(verifyTouchstone(touchstone, wrongKey, NOW))).toBe('bad_signature');
    expect(code(verifyTouchstone({ ...touchstone, n: 11 }, keys, NOW))).toBe('bad_signature');
    expect(code(verifyTouchstone(touchstone, keys, touchstone.expiresAt))).toBe('touchstone_expired');
    expect(code(verifyTouchstone(touchstone, keys, touchstone.issuedAt - 301))).toBe(
      'touchstone_not_yet_valid',
    );
    expect(code(verifyTouchstone(touchstone, keys, touchstone.issuedAt - 299))).toBe('ok');
  });

  it('keeps old keys valid after rotation while their chains live', () => {
    const rotated = brokerKeyring([
      { brokerId: 'broker.test', keyId: 'k2', publicKey: vendorB.publicKey },
      { brokerId: 'broker.test', keyId: 'k1', publicKey: broker.publicKey },
    ]);
    expect(code(verifyTouchstone(touchstone, rotated, NOW))).toBe('ok');
  });

  it('rejects any single-bit change to the root, chain id or signature (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('root', 'chainId', 'sig') as fc.Arbitrary<'root' | 'chainId' | 'sig'>,
        fc.nat(),
        (f, bit) => {
          const altered = { ...touchstone, [f]: flipBit(touchstone[f], bit, fromBase64url) };
          expect(code(verifyTouchstone(altered, keys, NOW))).toBe('bad_signature');
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('verifyPayment', () => {
  const chain = makeChain(100);
  const t = chain.touchstone;
  const pay = (index: number, word = chain.words[index]!): PaymentPart => ({
    chainId: chain.chainId,
    index,
    payword: toBase64url(word),
  });

  it('accepts coins in order from the root and returns the new state and amount', () => {
    const first = verifyPayment(undefined, pay(1), t, NOW);
    expect(first.ok && first.value.coins).toBe(1);
    expect(first.ok && first.value.amount).toBe(5n);
    if (!first.ok) return;
    const next = verifyPayment(first.value.state, pay(4), t, NOW, { step: chainStepper(chain.id) });
    expect(next.ok && next.value).toMatchObject({ coins: 3, amount: 15n, state: { index: 4 } });
  });

  it('returns a typed error for each way a payment can be wrong', () => {
    const state = { chainId: chain.chainId, index: 10, payword: chain.words[10]! };
    expect(code(verifyPayment(state, pay(10), t, NOW))).toBe('index_not_advancing');
    expect(code(verifyPayment(state, pay(9), t, NOW))).toBe('index_not_advancing');
    expect(code(verifyPayment(state, { ...pay(100), index: 101 }, t, NOW))).toBe('index_out_of_range');
    expect(code(verifyPayment(state, pay(21), t, NOW, { maxCoins: 10 }))).toBe('too_many_coins');
    expect(code(verifyPayment(state, pay(12, chain.words[13]!), t, NOW))).toBe('payword_invalid');
    expect(code(verifyPayment(state, pay(11), t, t.expiresAt))).toBe('touchstone_expired');
    const other = makeChain(100);
    expect(code(verifyPayment(state, pay(11), other.touchstone, NOW))).toBe('chain_mismatch');
    expect(code(verifyPayment({ ...state, chainId: other.chainId }, pay(11), t, NOW))).toBe('chain_mismatch');
  });

  it('rejects any single-bit change to a payword (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.nat(), (j, bit) => {
        const state =
          j > 1 ? { chainId: chain.chainId, index: j - 1, payword: chain.words[j - 1]! } : undefined;
        const part = { ...pay(j), payword: flipBit(pay(j).payword, bit, fromBase64url) };
        expect(code(verifyPayment(state, part, t, NOW))).toBe('payword_invalid');
      }),
    );
  });

  it('accepts exactly the honest paywords among random attempts (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 1, max: 100 }), (i, j) => {
        const state =
          i === 0 ? initialChainState(t) : { chainId: chain.chainId, index: i, payword: chain.words[i]! };
        const r = verifyPayment(state, pay(j), t, NOW, { maxCoins: 100 });
        expect(r.ok).toBe(j > i);
      }),
    );
  });
});

describe('verifyIndex', () => {
  const chain = makeChain(40);
  const index = makeIndex(chain, 7, 'vendor-b');

  it('accepts a signed index with the expected chain and recipient, linked to an anchor', () => {
    const r = verifyIndex(index, {
      vendorKey: vendorA.publicKey,
      chainId: chain.chainId,
      handedTo: 'vendor-b',
      touchstone: chain.touchstone,
      anchor: initialChainState(chain.touchstone),
    });
    expect(code(r)).toBe('ok');
  });

  it('rejects wrong keys, chains, recipients, out-of-range and unlinked indexes', () => {
    expect(code(verifyIndex(index, { vendorKey: vendorB.publicKey }))).toBe('bad_signature');
    expect(code(verifyIndex(index, { vendorKey: vendorA.publicKey, chainId: makeChain(3).chainId }))).toBe(
      'chain_mismatch',
    );
    expect(code(verifyIndex(index, { vendorKey: vendorA.publicKey, handedTo: 'vendor-c' }))).toBe(
      'wrong_recipient',
    );
    expect(code(verifyIndex(index, { vendorKey: vendorA.publicKey, handedTo: null }))).toBe(
      'wrong_recipient',
    );
    const short = makeChain(5);
    const far = signMessage('index', { ...index, chainId: short.chainId, sig: undefined } as never, vendorA);
    expect(code(verifyIndex(far, { vendorKey: vendorA.publicKey, touchstone: short.touchstone }))).toBe(
      'index_out_of_range',
    );
    const lie = signMessage(
      'index',
      { ...index, payword: toBase64url(chain.words[8]!), sig: undefined } as never,
      vendorA,
    );
    expect(
      code(
        verifyIndex(lie, {
          vendorKey: vendorA.publicKey,
          touchstone: chain.touchstone,
          anchor: initialChainState(chain.touchstone),
        }),
      ),
    ).toBe('payword_invalid');
  });

  it('rejects any single-bit change to the payword or signature (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('payword', 'sig', 'chainId') as fc.Arbitrary<'payword' | 'sig' | 'chainId'>,
        fc.nat(),
        (f, bit) => {
          const altered = { ...index, [f]: flipBit(index[f], bit, fromBase64url) };
          expect(code(verifyIndex(altered, { vendorKey: vendorA.publicKey }))).toBe('bad_signature');
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('verifyClaim', () => {
  const chain = makeChain(60);
  const point = (index: number) => ({ index, payword: toBase64url(chain.words[index]!) });
  const claimFor = (from: number, to: number, extra: Partial<Unsigned<Claim>> = {}): Claim =>
    signMessage(
      'claim',
      {
        v: 1,
        claimId: toBase64url(new Uint8Array(16).fill(from)),
        vendorId: 'vendor-a',
        chainId: chain.chainId,
        from: point(from),
        to: point(to),
        issuedAt: NOW,
        ...extra,
      },
      vendorA,
    );
  const ctx = (anchorIndex = 0) => ({
    touchstone: chain.touchstone,
    vendorKey: vendorA.publicKey,
    anchor: { index: anchorIndex, payword: chain.words[anchorIndex]! },
  });

  it('verifies a range incrementally from the anchor and prices it', () => {
    const r = verifyClaim(claimFor(0, 25), ctx());
    expect(r.ok && [r.value.coins, r.value.amount]).toEqual([25, 125n]);
    expect(code(verifyClaim(claimFor(25, 30), ctx(25)))).toBe('ok');
    expect(code(verifyClaim(claimFor(30, 40), ctx(25)))).toBe('ok');
  });

  it('rejects bad signatures, foreign chains, ranges before the anchor, too long or unlinked ranges', () => {
    expect(code(verifyClaim(claimFor(0, 5), { ...ctx(), vendorKey: vendorB.publicKey }))).toBe(
      'bad_signature',
    );
    expect(code(verifyClaim(claimFor(0, 5), { ...ctx(), touchstone: makeChain(60).touchstone }))).toBe(
      'chain_mismatch',
    );
    expect(code(verifyClaim(claimFor(10, 20), ctx(15)))).toBe('invalid_range');
    expect(code(verifyClaim(claimFor(0, 50), { ...ctx(), maxSteps: 20 }))).toBe('too_many_coins');
    const forged = claimFor(10, 20, { to: { index: 20, payword: toBase64url(chain.words[21]!) } });
    expect(code(verifyClaim(forged, ctx(10)))).toBe('payword_invalid');
    const wrongStart = claimFor(10, 20, { from: { index: 10, payword: toBase64url(chain.words[11]!) } });
    expect(code(verifyClaim(wrongStart, ctx(10)))).toBe('payword_invalid');
    expect(code(verifyClaim(wrongStart, ctx(5)))).toBe('payword_invalid');
    const pastEnd = claimFor(55, 60, { to: { index: 61, payword: toBase64url(chain.words[60]!) } });
    expect(code(verifyClaim(pastEnd, ctx(55)))).toBe('index_out_of_range');
  });

  it('rejects any single-bit change to a claimed payword or its signature (property)', () => {
    const good = claimFor(5, 15);
    fc.assert(
      fc.property(fc.constantFrom('to', 'from', 'sig'), fc.nat(), (f, bit) => {
        const altered =
          f === 'sig'
            ? { ...good, sig: flipBit(good.sig, bit, fromBase64url) }
            : {
                ...good,
                [f]: { ...good[f as 'to'], payword: flipBit(good[f as 'to'].payword, bit, fromBase64url) },
              };
        expect(code(verifyClaim(altered, ctx(0)))).toBe('bad_signature');
        // Even re-signed by the vendor, a false payword fails the hash check.
        if (f !== 'sig') {
          const resigned = signMessage('claim', { ...altered, sig: undefined } as never, vendorA);
          expect(code(verifyClaim(resigned, ctx(0)))).toBe('payword_invalid');
        }
      }),
      { numRuns: 60 },
    );
  });
});
