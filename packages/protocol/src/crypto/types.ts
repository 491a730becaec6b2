/**
 * The one interface every cryptographic call in NetPay goes through. Two implementations give identical
 * bytes and verdicts (tested): Node's `crypto` (fast, native) and the audited pure-JS `@noble/*` libraries
 * for browsers. `#crypto` picks one by package.json import conditions.
 */
export interface Ed25519Signer {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export interface CryptoBackend {
  readonly name: 'node' | 'noble';
  sha256(data: Uint8Array): Uint8Array;
  /** Writes SHA-256(data) into out[offset … offset+31]; `out` may be `data` (the hash is taken first). */
  sha256Into(data: Uint8Array, out: Uint8Array, offset: number): void;
  /** A signer for a 32-byte Ed25519 private key seed (RFC 8032). */
  ed25519Signer(seed: Uint8Array): Ed25519Signer;
  /** Never throws: a malformed key or signature is simply `false`. */
  ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  randomBytes(length: number): Uint8Array;
  /** A zeroed byte array of the kind this backend hashes fastest (a Buffer in Node), for reused inputs. */
  allocBytes(length: number): Uint8Array;
}
