import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toBase64url } from './bytes.ts';
import type { Payment } from './messages.ts';
import type { Terms } from './terms.ts';
import {
  brokerIdOf,
  decodeX402Header,
  encodeX402Header,
  netpayPaymentOf,
  termsToX402,
  X402_HEADERS,
  x402Network,
  x402ToTerms,
} from './x402.ts';

const terms: Terms = {
  v: 1,
  vendorId: 'shop.example',
  resource: 'GET /paper.pdf?x=1',
  price: '250',
  currency: 'USD',
  exponent: 4,
  brokers: [{ url: 'https://broker.example', brokerId: 'broker.example', keyIds: ['2026-01'] }],
};
const payment: Payment = {
  v: 1,
  parts: [
    { chainId: toBase64url(new Uint8Array(16).fill(7)), index: 3, payword: toBase64url(new Uint8Array(32)) },
  ],
};

describe('NetPay terms as an x402 requirement', () => {
  it('maps the terms to an entry of accepts and back', () => {
    const r = termsToX402(terms, 60);
    expect(r).toEqual({
      ok: true,
      value: {
        scheme: 'netpay',
        network: 'netpay:broker.example',
        asset: 'USD',
        amount: '250',
        payTo: 'shop.example',
        maxTimeoutSeconds: 60,
        extra: {
          vendorId: 'shop.example',
          resource: 'GET /paper.pdf?x=1',
          currency: 'USD',
          exponent: 4,
          brokers: terms.brokers,
        },
      },
    });
    expect(x402ToTerms(r.ok && r.value)).toEqual({ ok: true, value: terms });
    // Members x402 adds to extra are kept out of the terms.
    const withFlow = r.ok && { ...r.value, extra: { ...r.value.extra, paymentFlow: 'authorization' } };
    expect(x402ToTerms(withFlow)).toEqual({ ok: true, value: terms });
  });

  it('names the network after the broker', () => {
    expect(x402Network('b1')).toBe('netpay:b1');
    expect(brokerIdOf('netpay:b1')).toBe('b1');
    expect(brokerIdOf('netpay:')).toBeUndefined();
    expect(brokerIdOf('eip155:8453')).toBeUndefined();
  });

  it('cannot offer terms whose broker id is not known yet', () => {
    const r = termsToX402({ ...terms, brokers: [{ url: 'https://broker.example' }] });
    expect(r).toMatchObject({ ok: false, error: { code: 'malformed' } });
  });

  it('refuses requirements that contradict their own extra, or are not NetPay', () => {
    const good = termsToX402(terms);
    if (!good.ok) throw new Error('mapping failed');
    const bad = [
      { ...good.value, scheme: 'exact' },
      { ...good.value, network: 'netpay:other-broker' },
      { ...good.value, network: 'eip155:8453' },
      { ...good.value, asset: 'EUR' },
      { ...good.value, payTo: 'thief' },
      { ...good.value, amount: '0' },
      { ...good.value, amount: '1.5' },
      { ...good.value, amount: 250 },
      { ...good.value, extra: { ...good.value.extra, exponent: -1 } },
      { ...good.value, extra: {} },
      null,
      'netpay',
    ];
    for (const r of bad) expect(x402ToTerms(r)).toMatchObject({ ok: false, error: { code: 'malformed' } });
  });

  it('carries the payment as the payload, and nothing else', () => {
    expect(netpayPaymentOf({ payment })).toEqual({ ok: true, value: payment });
    expect(netpayPaymentOf({ payment, more: 1 })).toMatchObject({ ok: false });
    expect(netpayPaymentOf({ payment: { ...payment, v: 2 } })).toMatchObject({ ok: false });
    expect(netpayPaymentOf(undefined)).toMatchObject({ ok: false });
  });
});

describe('x402 headers', () => {
  const required = termsToX402(terms);
  if (!required.ok) throw new Error('mapping failed');
  const paymentRequired = {
    x402Version: 2,
    error: 'Payment required',
    resource: { url: 'http://shop.example/paper.pdf?x=1', description: 'é', mimeType: 'application/pdf' },
    accepts: [required.value],
  };

  it('are standard base64 of JSON, as x402 writes them (the same bytes as Buffer)', () => {
    const value = encodeX402Header(paymentRequired);
    expect(value).toBe(Buffer.from(JSON.stringify(paymentRequired), 'utf8').toString('base64'));
    expect(decodeX402Header('payment-required', value)).toEqual({ ok: true, value: paymentRequired });
    const signature = { x402Version: 2, accepted: required.value, payload: { payment } };
    expect(decodeX402Header('payment-signature', encodeX402Header(signature))).toEqual({
      ok: true,
      value: signature,
    });
    const response = { success: true, transaction: 'abc', network: 'netpay:broker.example', amount: '250' };
    expect(decodeX402Header('payment-response', encodeX402Header(response))).toEqual({
      ok: true,
      value: response,
    });
    expect(X402_HEADERS.signature).toBe('PAYMENT-SIGNATURE');
  });

  it('refuses what is not base64 JSON of the right shape', () => {
    const cases: [string | undefined, RegExp][] = [
      [undefined, /missing/],
      ['', /missing/],
      ['a'.repeat(70_000), /longer/],
      ['e30', /not base64/], // unpadded
      ['e30-', /not base64/], // url-safe
      ['e30==', /not base64/],
      ['/w==', /not UTF-8 JSON/],
      [encodeX402Header('x'), /payment-required/],
      [encodeX402Header({ ...paymentRequired, x402Version: 1 }), /x402Version/],
      [encodeX402Header({ ...paymentRequired, accepts: [] }), /accepts/],
    ];
    for (const [value, message] of cases) {
      const r = decodeX402Header('payment-required', value);
      expect(r.ok, String(value).slice(0, 20)).toBe(false);
      if (!r.ok) expect(r.error.message).toMatch(message);
    }
  });

  it('never throw, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.constantFrom('payment-required', 'payment-signature', 'payment-response'),
        (s, k) => {
          decodeX402Header(k, s);
          decodeX402Header(k, Buffer.from(s).toString('base64'));
        },
      ),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        x402ToTerms(v);
        netpayPaymentOf(v);
      }),
    );
  });
});
