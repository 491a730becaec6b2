import { describe, expect, it } from 'vitest';
import { toBase32, totpCode, verifyTotp } from './totp.ts';

describe('TOTP (RFC 6238, 6 digits)', () => {
  // RFC 6238 appendix B, SHA-1, secret "12345678901234567890": the last six digits of its 8-digit codes.
  const secret = toBase32(new TextEncoder().encode('12345678901234567890'));
  it('matches the RFC test vectors', () => {
    expect(secret).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(totpCode(secret, 59)).toBe('287082');
    expect(totpCode(secret, 1_111_111_109)).toBe('081804');
    expect(totpCode(secret, 2_000_000_000)).toBe('279037');
  });
  it('accepts one step of drift either way, nothing else', () => {
    const code = totpCode(secret, 1_000_000);
    expect(verifyTotp(secret, code, 1_000_000 + 30)).toBe(true);
    expect(verifyTotp(secret, code, 1_000_000 - 30)).toBe(true);
    expect(verifyTotp(secret, code, 1_000_000 + 61)).toBe(false);
    expect(verifyTotp(secret, '12345', 1_000_000)).toBe(false);
    expect(verifyTotp(secret, `${code} `, 1_000_000)).toBe(false);
  });
});
