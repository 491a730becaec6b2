import { describe, expect, it } from 'vitest';
import vectors from '../test-vectors.json' with { type: 'json' };
import { fromBase64url, fromHex, toBase64url, toHex } from './bytes.ts';
import { canonicalJson } from './canonical.ts';
import { generateChain } from './chain.ts';
import { nobleBackend } from './crypto/noble.ts';
import { nodeBackend } from './crypto/node.ts';
import { decodeMessage } from './messages.ts';
import { signingBytes, verifyMessageSignature } from './sign.ts';
import { ChainTraversal } from './traversal.ts';
import { brokerKeyring, verifyIndex, verifyPayment, verifyTouchstone } from './verify.ts';

/** The committed file is the reference: these tests check the code against it, never regenerate it. */
describe('test-vectors.json', () => {
  it('lists chains for n = 1, 10 and 1000', () => {
    expect(vectors.chains.map((c) => c.n)).toEqual([1, 10, 1000]);
  });

  for (const c of vectors.chains) {
    it(`chain n=${c.n}: generation and traversal reproduce every listed W(i)`, () => {
      const seed = fromHex(c.seed)!;
      const id = fromHex(c.chainId)!;
      expect(toBase64url(id)).toBe(c.chainIdBase64url);
      const w = generateChain(seed, id, c.n);
      expect(toHex(w[0]!)).toBe(c.root);
      for (const [i, hex] of Object.entries(c.W)) expect(toHex(w[Number(i)]!), `W(${i})`).toBe(hex);
      const { traversal, root } = ChainTraversal.create(seed, id, c.n);
      expect(toHex(root)).toBe(c.root);
      for (let i = 1; i <= c.n; i++) {
        const out = traversal.next()!;
        const listed = (c.W as Record<string, string | undefined>)[String(i)];
        if (listed) expect(toHex(out.payword)).toBe(listed);
      }
    });
  }

  const publicKey = fromHex(vectors.signingKey.publicKey)!;

  it('signing key is the RFC 8032 TEST 1 key in both backends', () => {
    const seed = fromHex(vectors.signingKey.seed)!;
    expect(toHex(nodeBackend.ed25519Signer(seed).publicKey)).toBe(vectors.signingKey.publicKey);
    expect(toHex(nobleBackend.ed25519Signer(seed).publicKey)).toBe(vectors.signingKey.publicKey);
  });

  for (const kind of ['touchstone', 'index'] as const) {
    it(`${kind}: canonical JSON, signing bytes and signature match, in both backends`, () => {
      const v = vectors[kind];
      const decoded = decodeMessage(kind, v.message);
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) return;
      const { sig, ...body } = decoded.value;
      expect(canonicalJson(body)).toBe(v.canonicalJson);
      expect(toHex(signingBytes(kind, decoded.value))).toBe(v.signingBytes);
      expect(toHex(fromBase64url(sig!)!)).toBe(v.signature);
      const seed = fromHex(vectors.signingKey.seed)!;
      for (const backend of [nodeBackend, nobleBackend]) {
        expect(toHex(backend.ed25519Signer(seed).sign(fromHex(v.signingBytes)!))).toBe(v.signature);
        expect(verifyMessageSignature(kind, decoded.value, publicKey, backend)).toBe(true);
      }
    });
  }

  it('the touchstone verifies and the chain n=10 pays against it; the index links to its root', () => {
    const t = decodeMessage('touchstone', vectors.touchstone.message);
    const index = decodeMessage('index', vectors.index.message);
    if (!t.ok || !index.ok) throw new Error('vectors do not decode');
    const keys = brokerKeyring([{ brokerId: 'broker.test', keyId: 'k1', publicKey }]);
    expect(verifyTouchstone(t.value, keys, t.value.issuedAt + 10).ok).toBe(true);
    const ten = vectors.chains[1]!;
    const w3 = toBase64url(fromHex(ten.W['3']!)!);
    const paid = verifyPayment(
      undefined,
      { chainId: t.value.chainId, index: 3, payword: w3 },
      t.value,
      t.value.issuedAt,
    );
    expect(paid.ok && paid.value.amount).toBe(15n);
    const anchor = { index: 0, payword: fromHex(ten.root)! };
    expect(verifyIndex(index.value, { vendorKey: publicKey, touchstone: t.value, anchor }).ok).toBe(true);
  });
});
