import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url, utf8 } from './bytes.ts';
import { canonicalJson } from './canonical.ts';
import { nobleBackend } from './crypto/noble.ts';
import { decodeHeader, encodeHeader, MAX_HEADER_LENGTH } from './headers.ts';
import { decodeMessage, decodeMessageJson, type MessageKind, type MessageOf, SCHEMAS } from './messages.ts';
import { cryptoBackend, type SignedKind, signingBytes, signMessage, verifyMessageSignature } from './sign.ts';
import { makeChain, makeIndex, NOW, vendorA, vendorB } from './test-helpers.ts';

const chain = makeChain(30);
const index = makeIndex(chain, 4);
const claim = signMessage(
  'claim',
  {
    v: 1,
    claimId: toBase64url(new Uint8Array(16).fill(7)),
    vendorId: 'vendor-b',
    chainId: chain.chainId,
    from: { index: 4, payword: toBase64url(chain.words[4]!) },
    to: { index: 9, payword: toBase64url(chain.words[9]!) },
    startIndex: index,
    payees: [
      { payeeId: 'operator', share: 1000 },
      { payeeId: 'label', share: 9000 },
    ],
    issuedAt: NOW,
  },
  vendorB,
);
const receipt = signMessage(
  'receipt',
  {
    v: 1,
    vendorId: 'vendor-a',
    requestId: 'req-1',
    parts: [{ chainId: chain.chainId, index: 3, coins: 3 }],
    amount: '15',
    currency: 'USD',
    exponent: 2,
    payees: [{ payeeId: 'vendor-a', share: 10000, amount: '15' }],
    issuedAt: NOW,
  },
  vendorA,
);
const handoverRequest = signMessage(
  'handover-request',
  {
    v: 1,
    chainId: chain.chainId,
    holder: 'vendor-a',
    requester: 'vendor-b',
    nonce: toBase64url(new Uint8Array(16).fill(1)),
    issuedAt: NOW,
  },
  vendorB,
);
const handoverResponse = signMessage(
  'handover-response',
  { v: 1, chainId: chain.chainId, nonce: handoverRequest.nonce, index },
  vendorA,
);
const payment: MessageOf<'payment'> = {
  v: 1,
  parts: [
    { chainId: chain.chainId, index: 2, payword: toBase64url(chain.words[2]!) },
    {
      chainId: makeChain(5).chainId,
      index: 1,
      payword: toBase64url(new Uint8Array(32)),
      touchstone: chain.touchstone,
      lastIndex: index,
    },
  ],
};

const signed: { [K in SignedKind]: { message: MessageOf<K>; key: Uint8Array } } = {
  touchstone: { message: chain.touchstone, key: (await import('./test-helpers.ts')).broker.publicKey },
  index: { message: index, key: vendorA.publicKey },
  receipt: { message: receipt, key: vendorA.publicKey },
  'handover-request': { message: handoverRequest, key: vendorB.publicKey },
  'handover-response': { message: handoverResponse, key: vendorA.publicKey },
  claim: { message: claim, key: vendorB.publicKey },
};
const examples: { [K in MessageKind]: MessageOf<K> } = {
  ...(Object.fromEntries(Object.entries(signed).map(([k, v]) => [k, v.message])) as {
    [K in SignedKind]: MessageOf<K>;
  }),
  payment,
};
const kinds = Object.keys(SCHEMAS) as MessageKind[];
const OPTIONAL: Record<MessageKind, string[]> = {
  touchstone: [],
  index: [],
  payment: [],
  receipt: ['requestId', 'payees', 'sig'],
  'handover-request': [],
  'handover-response': [],
  claim: ['startIndex', 'payees'],
};
const signedKinds = Object.keys(signed) as SignedKind[];

describe('message schemas', () => {
  it('accept every example message and round-trip it through canonical JSON and headers', () => {
    for (const kind of kinds) {
      const msg = examples[kind];
      expect(decodeMessage(kind, msg)).toEqual({ ok: true, value: msg });
      expect(decodeMessageJson(kind, canonicalJson(msg))).toEqual({ ok: true, value: msg });
      expect(decodeHeader(kind, encodeHeader(msg))).toEqual({ ok: true, value: msg });
    }
  });

  it('round-trip random valid payments and touchstones through JSON and headers (property)', () => {
    const b64 = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map(toBase64url);
    const part = fc.record({
      chainId: b64(16),
      index: fc.integer({ min: 1, max: 2 ** 24 }),
      payword: b64(32),
    });
    const pay = fc
      .uniqueArray(part, { minLength: 1, maxLength: 16, selector: (p) => p.chainId })
      .map((parts) => ({ v: 1 as const, parts }));
    fc.assert(
      fc.property(pay, (p) => {
        expect(decodeHeader('payment', encodeHeader(p))).toEqual({ ok: true, value: p });
        expect(decodeMessageJson('payment', JSON.stringify(p))).toEqual({ ok: true, value: p });
      }),
    );
    const touch = fc.record({
      v: fc.constant(1 as const),
      chainId: b64(16),
      root: b64(32),
      n: fc.integer({ min: 1, max: 2 ** 24 }),
      coinValue: fc.bigInt({ min: 1n, max: 10n ** 9n }).map(String),
      currency: fc.constantFrom('USD', 'EUR', 'XNP1'),
      exponent: fc.integer({ min: 0, max: 18 }),
      brokerId: fc.constantFrom('b', 'https://broker.example'),
      keyId: fc.constantFrom('k1', 'key-2026'),
      issuedAt: fc.integer({ min: 0, max: 2 ** 31 }),
      expiresAt: fc.integer({ min: 2 ** 31 + 1, max: 4_102_444_800 }),
      sig: b64(64),
    });
    fc.assert(
      fc.property(touch, (t) => {
        expect(decodeHeader('touchstone', encodeHeader(t))).toEqual({ ok: true, value: t });
      }),
    );
  });

  it('turn anything malformed into a typed error, never an exception (property)', () => {
    for (const kind of kinds) {
      fc.assert(
        fc.property(fc.anything(), (junk) => {
          const r = decodeMessage(kind, junk);
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.error.code).toBe('malformed');
        }),
        { numRuns: 60 },
      );
    }
  });

  it('reject a valid message with one field removed, retyped or added (property)', () => {
    for (const kind of kinds) {
      const msg = examples[kind] as Record<string, unknown>;
      const fields = Object.keys(msg);
      fc.assert(
        fc.property(
          fc.constantFrom(...fields),
          fc.constantFrom('drop', 'retype', 'add'),
          fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.double(), fc.boolean()),
          (field, how, junk) => {
            const copy: Record<string, unknown> = { ...msg };
            if (how === 'drop') delete copy[field];
            if (how === 'retype') copy[field] = typeof msg[field] === typeof junk ? [junk] : junk;
            if (how === 'add') copy[`${field}_extra`] = junk;
            const r = decodeMessage(kind, copy);
            const stillValid =
              (how === 'drop' && OPTIONAL[kind].includes(field)) ||
              (how === 'retype' && field === 'handedTo' && junk === null);
            expect(r.ok ? 'ok' : r.error.code).toBe(stillValid ? 'ok' : 'malformed');
          },
        ),
        { numRuns: 80 },
      );
    }
  });

  it('enforce the rules a type cannot express', () => {
    const t = chain.touchstone;
    const bad = (kind: MessageKind, value: unknown) => expect(decodeMessage(kind, value).ok).toBe(false);
    bad('touchstone', { ...t, expiresAt: t.issuedAt });
    bad('touchstone', { ...t, coinValue: '0' });
    bad('touchstone', { ...t, coinValue: '05' });
    bad('touchstone', { ...t, coinValue: '9223372036854775808' });
    bad('touchstone', { ...t, n: 2 ** 24 + 1 });
    bad('touchstone', { ...t, root: `${t.root.slice(0, -1)}B` }); // non-zero trailing bits
    bad('touchstone', { ...t, currency: 'usd' });
    bad('payment', { ...payment, parts: [payment.parts[0], payment.parts[0]] });
    bad('payment', { ...payment, parts: [] });
    bad('payment', { ...payment, parts: Array.from({ length: 17 }, () => payment.parts[0]) });
    bad('payment', { v: 1, parts: [{ ...payment.parts[0]!, index: 0 }] });
    bad('claim', { ...claim, to: claim.from });
    bad('claim', { ...claim, payees: [{ payeeId: 'a', share: 5000 }] });
    bad('claim', {
      ...claim,
      payees: [
        { payeeId: 'a', share: 5000 },
        { payeeId: 'a', share: 5000 },
      ],
    });
    bad('index', { ...index, vendorId: 'has space' });
    bad('touchstone', { ...t, n: 2 ** 24, coinValue: '549755813888' }); // 2^24 × 2^39 = 2^63: too much
    expect(decodeMessage('touchstone', { ...t, n: 2 ** 24, coinValue: '549755813887' }).ok).toBe(true); // just fits
    bad('receipt', { ...receipt, amount: '0' });
    bad('receipt', { ...receipt, parts: [receipt.parts[0], receipt.parts[0]] });
    bad('receipt', { ...receipt, payees: [{ payeeId: 'vendor-a', share: 10000, amount: '14' }] });
    bad('receipt', { ...receipt, payees: [{ payeeId: 'vendor-a', share: 9000, amount: '15' }] });
  });

  it('reject malformed headers with a typed error', () => {
    for (const value of [
      undefined,
      null,
      '',
      '!!!',
      toBase64url(utf8('{')),
      toBase64url(Uint8Array.of(0xff, 0xfe)),
    ]) {
      const r = decodeHeader('payment', value);
      expect(r.ok ? 'ok' : r.error.code).toBe('malformed');
    }
    expect(decodeHeader('payment', 'A'.repeat(MAX_HEADER_LENGTH + 4)).ok).toBe(false);
  });
});

describe('signatures', () => {
  it('use Node crypto in Node', () => {
    expect(cryptoBackend.name).toBe('node');
  });

  it('verify for each kind, under both backends, and only under the signer key', () => {
    for (const kind of signedKinds) {
      const { message, key } = signed[kind];
      expect(verifyMessageSignature(kind, message, key), kind).toBe(true);
      expect(verifyMessageSignature(kind, message, key, nobleBackend), kind).toBe(true);
      const other = kind === 'claim' || kind === 'handover-request' ? vendorA : vendorB;
      expect(verifyMessageSignature(kind, message, other.publicKey), kind).toBe(false);
    }
  });

  it('cannot be replayed as another kind of message (domain tags)', () => {
    const { message } = signed.index;
    const asReceipt = signingBytes('receipt', message as never);
    expect(asReceipt).not.toEqual(signingBytes('index', message));
    expect(verifyMessageSignature('receipt', message as never, vendorA.publicKey)).toBe(false);
  });

  it('reject any single-bit change to a signed message, signature included (property)', () => {
    for (const kind of signedKinds) {
      const { message, key } = signed[kind];
      const bytes = utf8(canonicalJson(message));
      fc.assert(
        fc.property(fc.integer({ min: 0, max: bytes.length * 8 - 1 }), (bit) => {
          const copy = Uint8Array.from(bytes);
          copy[bit >> 3]! ^= 1 << (bit & 7);
          const decoded = decodeMessageJson(kind, new TextDecoder().decode(copy));
          // Either it no longer parses as a message, or it parses and its signature fails.
          if (decoded.ok) expect(verifyMessageSignature(kind, decoded.value, key)).toBe(false);
        }),
        { numRuns: 400 },
      );
    }
  });

  it('reject a signature with a flipped bit under both backends (property)', () => {
    const { message, key } = signed.touchstone;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 511 }), (bit) => {
        const sig = Uint8Array.from(fromBase64url(message.sig)!);
        sig[bit >> 3]! ^= 1 << (bit & 7);
        const altered = { ...message, sig: toBase64url(sig) };
        expect(verifyMessageSignature('touchstone', altered, key)).toBe(false);
        expect(verifyMessageSignature('touchstone', altered, key, nobleBackend)).toBe(false);
      }),
      { numRuns: 40 },
    );
  });
});
