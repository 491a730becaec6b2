/**
 * Bodies with no canonical JSON (a number past the double range, which JSON.parse reads as Infinity; an
 * object that is not plain JSON, as a form parser makes) are the caller's fault where a service hashes a
 * request: a signed request does not verify (401), an idempotent one is a 400. Found by the hostile-input
 * run (packages/api/test/hostile.test.ts), where both were 500s before authentication.
 */
import { createSigner, isNetPayError } from '@netpay/protocol';
import { describe, expect, it } from 'vitest';
import { requestHash } from './idempotency.ts';
import { signRequest, verifySignedRequest } from './signed-request.ts';

const signer = createSigner(new Uint8Array(32).fill(7));
const now = 1_800_000_000;
/** An object whose prototype is neither Object.prototype nor null, as fast-querystring's parse makes. */
function formObject(fields: Record<string, string>): object {
  function Empty() {}
  Empty.prototype = Object.create(null);
  return Object.assign(new (Empty as unknown as new () => object)(), fields);
}

async function verify(body: unknown) {
  const headers = signRequest(signer, 'shop', { method: 'POST', path: '/x', body: { a: 1 } }, now);
  try {
    await verifySignedRequest(
      { method: 'POST', path: '/x', body, headers },
      async () => signer.publicKey,
      now,
    );
    return 'verified';
  } catch (e) {
    return isNetPayError(e) ? `${e.status} ${e.code}` : `threw ${String(e)}`;
  }
}

describe('hashing what a caller sent', () => {
  it('a signed request whose body has no canonical JSON does not verify', async () => {
    expect(await verify({ a: 1 })).toBe('verified');
    expect(await verify({ a: Number.POSITIVE_INFINITY })).toBe('401 signature_invalid');
    expect(await verify(Number.NaN)).toBe('401 signature_invalid');
    expect(await verify(formObject({ a: '1' }))).toBe('401 signature_invalid');
  });

  it("an idempotent request whose body has no canonical JSON is the caller's 400", () => {
    expect(requestHash({ url: '/x', body: { a: 1 } })).toMatch(/^[0-9a-f]{64}$/);
    for (const body of [
      Number.POSITIVE_INFINITY,
      { a: [Number.NEGATIVE_INFINITY] },
      formObject({ a: '1' }),
    ]) {
      let code = 'no error';
      try {
        requestHash({ url: '/x', body });
      } catch (e) {
        code = isNetPayError(e) ? `${e.status} ${e.code}` : `threw ${String(e)}`;
      }
      expect(code).toBe('400 bad_request');
    }
  });
});
