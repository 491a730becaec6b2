import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, fromBase64url, fromHex, toBase64url, toHex } from './bytes.ts';

describe('base64url', () => {
  it('matches RFC 4648 §10 vectors (url alphabet, no padding)', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['f', 'Zg'],
      ['fo', 'Zm8'],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg'],
      ['fooba', 'Zm9vYmE'],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, enc] of cases) {
      expect(toBase64url(new TextEncoder().encode(plain))).toBe(enc);
      expect(new TextDecoder().decode(fromBase64url(enc))).toBe(plain);
    }
    expect(toBase64url(Uint8Array.of(0xfb, 0xff))).toBe('-_8');
  });

  it('round-trips any bytes and agrees with Node', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const enc = toBase64url(bytes);
        expect(enc).toBe(Buffer.from(bytes).toString('base64url'));
        expect(bytesEqual(fromBase64url(enc)!, bytes)).toBe(true);
      }),
    );
  });

  it('rejects padding, foreign characters, impossible lengths and non-canonical trailing bits', () => {
    for (const bad of ['Zg==', 'Zm9v+', 'Zm9v/', 'Z', 'Zh', 'Zm9', 'a b', 'é']) {
      expect(fromBase64url(bad), bad).toBeUndefined();
    }
  });
});

describe('hex and helpers', () => {
  it('round-trips hex and rejects odd or upper-case input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(bytesEqual(fromHex(toHex(b))!, b)).toBe(true);
      }),
    );
    expect(fromHex('abc')).toBeUndefined();
    expect(fromHex('AB')).toBeUndefined();
    expect(fromHex('zz')).toBeUndefined();
  });

  it('compares and concatenates', () => {
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(bytesEqual(Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(false);
    expect([...concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))]).toEqual([1, 2, 3]);
  });
});
