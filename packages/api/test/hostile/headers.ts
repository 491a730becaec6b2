/**
 * What the hostile-input run puts in headers: junk for the NetPay-* headers and the others a client may
 * send, payments naming the customer's real chain, and the credentials of each variant (none, garbage,
 * another party's, the route's own).
 */
import { signRequest } from '@netpay/service';
import type { AuthVariant, Draft, Operation } from './cases.ts';
import type { Parties } from './services.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64url');

/** Junk for the NetPay-* headers (and the others a client may send), each a header set on its own. */
export const HEADER_JUNK: readonly { label: string; headers: Record<string, string> }[] = [
  { label: 'payment: broken base64', headers: { 'netpay-payment': '!!!not*base64%%' } },
  { label: 'payment: padded standard base64', headers: { 'netpay-payment': 'eyJ2IjoxfQ+/==' } },
  { label: 'payment: base64 of junk', headers: { 'netpay-payment': b64('not json at all') } },
  { label: 'payment: junk JSON', headers: { 'netpay-payment': b64('{"v":1,"parts":"x"}') } },
  { label: 'payment: wrong version', headers: { 'netpay-payment': b64('{"v":99,"parts":[]}') } },
  {
    label: 'payment: bad part',
    headers: { 'netpay-payment': b64('{"v":1,"parts":[{"chainId":"x","index":-1,"payword":"\\u0000"}]}') },
  },
  {
    label: 'payment: exponent index',
    headers: {
      'netpay-payment': b64(
        `{"v":1,"parts":[{"chainId":"${'A'.repeat(22)}","index":1e3,"payword":"${'A'.repeat(43)}"}]}`,
      ),
    },
  },
  {
    label: 'payment: 200 parts',
    headers: {
      'netpay-payment': b64(
        JSON.stringify({
          v: 1,
          parts: Array.from({ length: 200 }, () => ({
            chainId: 'A'.repeat(22),
            index: 1,
            payword: 'A'.repeat(43),
          })),
        }),
      ).slice(0, 15_000),
    },
  },
  {
    label: 'payment: deep JSON',
    headers: { 'netpay-payment': b64(`${'['.repeat(4000)}${']'.repeat(4000)}`) },
  },
  {
    label: 'payment: __proto__',
    headers: { 'netpay-payment': b64('{"__proto__":{"v":1},"v":1,"parts":[]}') },
  },
  { label: 'payment: 15 KB', headers: { 'netpay-payment': 'A'.repeat(15_000) } },
  { label: 'payment: empty', headers: { 'netpay-payment': '' } },
  { label: 'payment: twice', headers: { 'netpay-payment': `${b64('{"v":1}')}, ${b64('{"v":1}')}` } },
  { label: 'receipt signature junk', headers: { 'netpay-receipt-signature': 'rsa\u0001' } },
  { label: 'tab junk', headers: { 'netpay-tab': b64('{"chainId":1e400}') } },
  { label: 'x402 junk', headers: { 'payment-signature': b64('{"x402Version":"x","payload":[]}') } },
  {
    label: 'key id junk',
    headers: { 'netpay-key-id': 'nobody\u0001', 'netpay-timestamp': '1', 'netpay-signature': 'x' },
  },
  {
    label: 'timestamp exponent',
    headers: { 'netpay-key-id': 'x', 'netpay-timestamp': '1e9', 'netpay-signature': 'AA' },
  },
  {
    label: 'timestamp huge',
    headers: { 'netpay-key-id': 'x', 'netpay-timestamp': '999999999999', 'netpay-signature': 'AA' },
  },
  {
    label: 'signature 5 KB',
    headers: {
      'netpay-key-id': 'x'.repeat(5000),
      'netpay-timestamp': '-1',
      'netpay-signature': 'A'.repeat(5000),
    },
  },
  { label: 'idempotency key too long', headers: { 'idempotency-key': 'k'.repeat(200) } },
  { label: 'idempotency key control', headers: { 'idempotency-key': 'key\u0001\u0002abcdef' } },
  { label: 'idempotency key latin-1', headers: { 'idempotency-key': 'schl\u00fcssel-12345' } },
  { label: 'authorization 10 KB', headers: { authorization: `Bearer ${'t'.repeat(10_000)}` } },
  { label: 'authorization basic', headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } },
  { label: 'authorization control', headers: { authorization: 'Bearer \u0001\u007f' } },
  { label: 'cookie junk', headers: { cookie: `netpay_wallet=${'%'.repeat(300)}; a=\u0001` } },
  { label: 'accept junk', headers: { accept: 'text/html;q=x, */*;q=1e400' } },
];

/**
 * Payments that name the customer's real chain (so a vendor gets past decoding): a wrong payword, more
 * coins in one step than a part may carry (1000), more parts than a payment may carry (16), index 0, an
 * index past the chain's end.
 */
export function realChainPayments(chainId: string): { label: string; headers: Record<string, string> }[] {
  const part = (index: number, payword = 'A'.repeat(43)) => ({ chainId, index, payword });
  const pay = (label: string, parts: unknown[]) => ({
    label: `payment: ${label}`,
    headers: { 'netpay-payment': b64(JSON.stringify({ v: 1, parts })) },
  });
  return [
    pay('wrong payword', [part(1)]),
    pay('1001 coins in one part', [part(1001)]),
    pay(
      '17 parts',
      Array.from({ length: 17 }, (_, i) => part(i + 1)),
    ),
    pay('index 0', [part(0)]),
    pay('index past the end', [part(11)]),
    pay('index 2^32', [part(2 ** 32)]),
    pay('the same part twice', [part(1), part(1)]),
  ];
}

/** Header junk as drafts: every one for `all`, else `count` of them, starting at `offset`. */
export function headerDrafts(
  junk: readonly { label: string; headers: Record<string, string> }[],
  count: number,
  offset: number,
): Draft[] {
  const n = Math.min(count, junk.length);
  return Array.from({ length: n }, (_, i) => junk[(offset + i) % junk.length]!).map((j) => ({
    label: j.label,
    headers: j.headers,
  }));
}

/** The credentials of each variant for an operation: none, garbage, another party's, its own. */
export function credentials(
  op: Operation,
  variant: AuthVariant,
  parties: Parties,
  sign: { method: string; path: string; body: unknown },
): Record<string, string> | undefined {
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const signed = (who: Parties['vendor']) => {
    try {
      return signRequest(who.signer, who.id, sign, Math.floor(Date.now() / 1000));
    } catch {
      return undefined; // a body too deep for this process to hash: not sendable signed
    }
  };
  switch (variant) {
    case 'none':
      return {};
    case 'garbage':
      return {
        ...bearer('garbage-token-\u00ff'),
        'netpay-key-id': parties.vendor.id,
        'netpay-timestamp': String(Math.floor(Date.now() / 1000)),
        'netpay-signature': 'A'.repeat(86),
      };
    case 'other':
      if (op.auth === 'customer') return signed(parties.vendor);
      if (op.auth === 'party') return bearer(parties.customerToken);
      if (op.auth === 'admin') return { ...bearer(parties.customerToken), ...signed(parties.vendor) };
      if (op.auth === 'account') return bearer(parties.otherBankToken);
      return { ...bearer(parties.adminToken), ...signed(parties.vendor) };
    case 'own':
      if (op.auth === 'customer') return bearer(parties.customerToken);
      if (op.auth === 'party') return signed(op.path.startsWith('/p2p/') ? parties.peer : parties.vendor);
      if (op.auth === 'admin') return bearer(parties.adminToken);
      if (op.auth === 'account') return bearer(parties.bankToken);
      return {};
  }
}
