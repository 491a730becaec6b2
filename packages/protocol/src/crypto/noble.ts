import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import type { CryptoBackend } from './types.ts';

export const nobleBackend: CryptoBackend = {
  name: 'noble',
  sha256(data) {
    return sha256(data);
  },
  sha256Into(data, out, offset) {
    out.set(sha256(data), offset);
  },
  ed25519Signer(seed) {
    if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
    const secret = Uint8Array.from(seed);
    return { publicKey: ed25519.getPublicKey(secret), sign: (message) => ed25519.sign(message, secret) };
  },
  ed25519Verify(signature, message, publicKey) {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    try {
      // zip215: false gives RFC 8032 / FIPS 186-5 strict verification, matching OpenSSL's verdicts.
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
  randomBytes(length) {
    return randomBytes(length);
  },
  allocBytes(length) {
    return new Uint8Array(length);
  },
};

export default nobleBackend;
