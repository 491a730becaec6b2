import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../bytes.ts';
import { nobleBackend } from './noble.ts';
import { nodeBackend } from './node.ts';

// RFC 8032 §7.1 TEST 1, TEST 2 and TEST 3.
const RFC8032 = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

const backends = [nodeBackend, nobleBackend];

describe('crypto backends (Node crypto and @noble)', () => {
  for (const backend of backends) {
    it(`${backend.name}: passes the RFC 8032 Ed25519 vectors and the SHA-256 known answer`, () => {
      for (const v of RFC8032) {
        const signer = backend.ed25519Signer(fromHex(v.secret)!);
        expect(toHex(signer.publicKey)).toBe(v.publicKey);
        expect(toHex(signer.sign(fromHex(v.message)!))).toBe(v.signature);
        expect(backend.ed25519Verify(fromHex(v.signature)!, fromHex(v.message)!, fromHex(v.publicKey)!)).toBe(
          true,
        );
      }
      expect(toHex(backend.sha256(new TextEncoder().encode('abc')))).toBe(
        'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      );
      expect(backend.randomBytes(16)).toHaveLength(16);
    });
  }

  it('give identical SHA-256 digests (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        const digest = toHex(nodeBackend.sha256(data));
        expect(toHex(nobleBackend.sha256(data))).toBe(digest);
        for (const backend of backends) {
          // In place, into a Buffer from allocBytes and into a plain Uint8Array at an offset.
          const inPlace = backend.allocBytes(data.length + 32);
          inPlace.set(data);
          backend.sha256Into(inPlace.subarray(0, data.length), inPlace, data.length);
          expect(toHex(inPlace.subarray(data.length))).toBe(digest);
          const plain = new Uint8Array(40);
          backend.sha256Into(data, plain, 8);
          expect(toHex(plain.subarray(8))).toBe(digest);
        }
      }),
    );
  });

  it('give identical keys and signatures (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 200 }),
        (seed, msg) => {
          const a = nodeBackend.ed25519Signer(seed);
          const b = nobleBackend.ed25519Signer(seed);
          expect(toHex(a.publicKey)).toBe(toHex(b.publicKey));
          expect(toHex(a.sign(msg))).toBe(toHex(b.sign(msg)));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('give identical verdicts on good, altered and junk signatures (property)', () => {
    const signer = nodeBackend.ed25519Signer(new Uint8Array(32).fill(5));
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.constantFrom('good', 'sig', 'msg', 'key', 'junk'),
        fc.nat(),
        (msg, what, bit) => {
          let sig = signer.sign(msg);
          let key = signer.publicKey;
          let data = msg;
          const flip = (b: Uint8Array) => {
            const c = Uint8Array.from(b);
            if (c.length > 0) c[(bit >> 3) % c.length]! ^= 1 << (bit & 7);
            return c;
          };
          if (what === 'sig') sig = flip(sig);
          if (what === 'key') key = flip(key);
          if (what === 'msg') data = msg.length > 0 ? flip(msg) : Uint8Array.of(1);
          if (what === 'junk') sig = nodeBackend.randomBytes(64);
          const node = nodeBackend.ed25519Verify(sig, data, key);
          const noble = nobleBackend.ed25519Verify(sig, data, key);
          expect(node).toBe(noble);
          expect(node).toBe(what === 'good');
        },
      ),
      { numRuns: 60 },
    );
  });

  it('never throw on malformed keys or signatures', () => {
    for (const backend of backends) {
      expect(backend.ed25519Verify(new Uint8Array(63), new Uint8Array(1), new Uint8Array(32))).toBe(false);
      expect(backend.ed25519Verify(new Uint8Array(64), new Uint8Array(1), new Uint8Array(31))).toBe(false);
      expect(
        backend.ed25519Verify(
          new Uint8Array(64).fill(0xff),
          new Uint8Array(1),
          new Uint8Array(32).fill(0xff),
        ),
      ).toBe(false);
      expect(() => backend.ed25519Signer(new Uint8Array(31))).toThrow(RangeError);
    }
  });
});
