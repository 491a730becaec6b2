import { Secret, TOTP } from 'otpauth';

/**
 * RFC 6238 TOTP as authenticator apps use it (HMAC-SHA1, 6 digits, 30 s steps, secrets in RFC 4648
 * base32), from the `otpauth` library; this module only fixes the parameters (docs/broker.md §4).
 */
const PARAMS = { algorithm: 'SHA1', digits: 6, period: 30 } as const;

/** A new secret from `bytes` (20 random bytes), as base32 for the customer's app. */
export const toBase32 = (bytes: Uint8Array): string =>
  new Secret({ buffer: Uint8Array.from(bytes).buffer }).base32;

export const totpCode = (secretBase32: string, unixSeconds: number): string =>
  TOTP.generate({ ...PARAMS, secret: Secret.fromBase32(secretBase32), timestamp: unixSeconds * 1000 });

/** Accepts the current code and the one before or after it (clock drift of ±30 s). */
export function verifyTotp(secretBase32: string, code: string, unixSeconds: number): boolean {
  if (!/^\d{6}$/.test(code)) return false;
  const delta = TOTP.validate({
    ...PARAMS,
    token: code,
    secret: Secret.fromBase32(secretBase32),
    timestamp: unixSeconds * 1000,
    window: 1,
  });
  return delta !== null;
}
