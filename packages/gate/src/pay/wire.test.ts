/**
 * The hot path's encodings (wire.ts) against the general ones: a payment header is read exactly as the
 * schema reads it (the same payment, or the same refusal), and a receipt header has exactly the bytes of
 * encodeHeader. Generated inputs: valid payments, and each mutated the ways clients get them wrong.
 */
import {
  decodeHeader,
  encodeHeader,
  MAX_CHAIN_LENGTH,
  type Receipt,
  randomBytes,
  toBase64url,
} from '@netpay/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readPaymentHeader, receiptHeader } from './wire.ts';

const b64 = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map(toBase64url);
const part = fc.record({
  chainId: b64(16),
  index: fc.integer({ min: 1, max: MAX_CHAIN_LENGTH }),
  payword: b64(32),
});
const payment = fc.record({ v: fc.constant(1), parts: fc.array(part, { minLength: 1, maxLength: 3 }) });

/** A JSON value a client might send instead of the right one. */
const wrong = fc.oneof(
  fc.constant(null),
  fc.constant(''),
  fc.constant('=='),
  fc.constant(0),
  fc.constant(-1),
  fc.constant(1.5),
  fc.constant('1'),
  fc.constant(MAX_CHAIN_LENGTH + 1),
  fc.constant([]),
  fc.constant({}),
  fc.string({ maxLength: 50 }),
  b64(15),
  b64(33),
  b64(16).map((s) => `${s}=`),
  b64(16).map((s) => s.replace(/.$/, '+')),
);

/** A payment changed in one way: a field wrong, missing or extra, parts repeated, or the envelope broken. */
const mutated = fc.oneof(
  fc.tuple(payment, fc.constantFrom('chainId', 'index', 'payword'), wrong).map(([p, k, w]) => ({
    ...p,
    parts: [{ ...p.parts[0]!, [k]: w }, ...p.parts.slice(1)],
  })),
  fc.tuple(payment, fc.constantFrom('chainId', 'index', 'payword')).map(([p, k]) => {
    const { [k as 'index']: _, ...rest } = p.parts[0]!;
    return { ...p, parts: [rest] };
  }),
  payment.map((p) => ({ ...p, parts: [{ ...p.parts[0]!, extra: 1 }] })),
  payment.map((p) => ({ ...p, extra: true })),
  payment.map((p) => ({ ...p, v: 2 })),
  payment.map((p) => ({ parts: p.parts })),
  payment.map((p) => ({ ...p, parts: [p.parts[0]!, p.parts[0]!] })),
  payment.map((p) => ({ ...p, parts: [] })),
  payment.map((p) => ({ ...p, parts: Array.from({ length: 17 }, () => p.parts[0]!) })),
  payment.map((p) => p.parts),
);

const header = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

describe('the hot path reads a payment header as the schema does', () => {
  it('accepts every valid payment, with the same value', () => {
    fc.assert(
      fc.property(payment, (p) => {
        const h = header(p);
        expect(readPaymentHeader(h)).toEqual(decodeHeader('payment', h));
        expect(readPaymentHeader(h)).toEqual({ ok: true, value: p });
      }),
      { numRuns: 300 },
    );
  });

  it('refuses every mutated payment with the schema’s own error', () => {
    fc.assert(
      fc.property(mutated, (p) => {
        const h = header(p);
        const general = decodeHeader('payment', h);
        expect(general.ok).toBe(false);
        expect(readPaymentHeader(h)).toEqual(general);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses broken envelopes alike: not base64url, not UTF-8, not JSON, padded, absent', () => {
    const valid = header({
      v: 1,
      parts: [{ chainId: toBase64url(randomBytes(16)), index: 1, payword: toBase64url(randomBytes(32)) }],
    });
    const cases = [
      undefined,
      '',
      ' ',
      `${valid}=`,
      `${valid}*`,
      `a${valid}`,
      Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url'),
      Buffer.from('{"v":1,').toString('base64url'),
      Buffer.from('"\uFFFD"').toString('base64url'),
      'x'.repeat(17_000),
    ];
    for (const c of cases) expect(readPaymentHeader(c)).toEqual(decodeHeader('payment', c));
  });
});

describe('the hot path writes a receipt header as encodeHeader does', () => {
  const receipt: fc.Arbitrary<Receipt> = fc
    .record({
      vendorId: fc.stringMatching(/^[\x21-\x7e]{1,20}$/),
      parts: fc.array(
        fc.record({
          chainId: b64(16),
          index: fc.integer({ min: 1, max: MAX_CHAIN_LENGTH }),
          coins: fc.integer({ min: 1, max: 1000 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      amount: fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }).map(String),
      currency: fc.constantFrom('USD', 'EUR', 'TOKEN'),
      exponent: fc.integer({ min: 0, max: 8 }),
      issuedAt: fc.integer({ min: 0, max: 4_102_444_800 }),
      requestId: fc.option(fc.stringMatching(/^[\x21-\x7e]{1,30}$/), { nil: undefined }),
      payees: fc.option(
        fc.array(
          fc.record({
            payeeId: fc.stringMatching(/^[\x21-\x7e]{1,20}$/),
            share: fc.integer({ min: 1, max: 10_000 }),
            amount: fc.bigInt({ min: 0n, max: 10n ** 12n }).map(String),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        { nil: undefined },
      ),
    })
    .map(({ requestId, payees, ...r }) => ({
      v: 1 as const,
      ...r,
      ...(requestId === undefined ? {} : { requestId }),
      ...(payees === undefined ? {} : { payees }),
    }));

  it('has the bytes of base64url(canonical JSON)', () => {
    fc.assert(
      fc.property(receipt, (r) => {
        expect(receiptHeader(r)).toBe(encodeHeader(r));
      }),
      { numRuns: 500 },
    );
  });
});
