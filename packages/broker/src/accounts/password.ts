import { bytesEqual, fromBase64url, toBase64url, utf8 } from '@netpay/protocol';
import { argon2idAsync } from '@noble/hashes/argon2.js';

export interface Argon2Params {
  readonly t: number;
  readonly m: number;
  readonly p: number;
}

/** argon2id hash in a self-describing string: `argon2id$t=2,m=19456,p=1$<salt>$<hash>` (base64url). */
export async function hashPassword(
  password: string,
  salt: Uint8Array,
  params: Argon2Params,
): Promise<string> {
  const hash = await argon2idAsync(utf8(password), salt, { ...params, dkLen: 32 });
  return `argon2id$t=${params.t},m=${params.m},p=${params.p}$${toBase64url(salt)}$${toBase64url(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = /^argon2id\$t=(\d+),m=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (!m) return false;
  const salt = fromBase64url(m[4]!);
  const expected = fromBase64url(m[5]!);
  if (!salt || !expected) return false;
  const hash = await argon2idAsync(utf8(password), salt, {
    t: Number(m[1]),
    m: Number(m[2]),
    p: Number(m[3]),
    dkLen: 32,
  });
  return bytesEqual(hash, expected);
}
