import backend from '#crypto';
import { concatBytes, fromBase64url, toBase64url, utf8 } from './bytes.ts';
import { canonicalBytes } from './canonical.ts';
import type { CryptoBackend, Ed25519Signer } from './crypto/types.ts';
import type { MessageKind, MessageOf } from './messages.ts';

/** Messages that carry an Ed25519 signature, each under its own domain tag. */
export type SignedKind = Exclude<MessageKind, 'payment'>;

export const DOMAIN_TAGS: Record<SignedKind, string> = {
  touchstone: 'NetPay/v1/touchstone',
  index: 'NetPay/v1/index',
  receipt: 'NetPay/v1/receipt',
  'handover-request': 'NetPay/v1/handover-request',
  'handover-response': 'NetPay/v1/handover-response',
  claim: 'NetPay/v1/claim',
};

export type Unsigned<T> = Omit<T, 'sig'>;

/**
 * The bytes a signature covers: ASCII domain tag ‖ 0x00 ‖ RFC 8785 canonical JSON of the message
 * without its `sig` field. The tag keeps a signature on one kind of message from passing as another.
 */
export function signingBytes<K extends SignedKind>(
  kind: K,
  message: Unsigned<MessageOf<K>> | MessageOf<K>,
): Uint8Array {
  const { sig: _sig, ...body } = message as Record<string, unknown>;
  return concatBytes(utf8(DOMAIN_TAGS[kind]), Uint8Array.of(0), canonicalBytes(body));
}

export function signMessage<K extends SignedKind>(
  kind: K,
  message: Unsigned<MessageOf<K>>,
  signer: Ed25519Signer,
): MessageOf<K> {
  const sig = toBase64url(signer.sign(signingBytes(kind, message)));
  return { ...message, sig } as MessageOf<K>;
}

/** True when `message.sig` is a valid signature by `publicKey` for this kind. Never throws. */
export function verifyMessageSignature<K extends SignedKind>(
  kind: K,
  message: MessageOf<K>,
  publicKey: Uint8Array,
  crypto: CryptoBackend = backend,
): boolean {
  const sig = typeof message.sig === 'string' ? fromBase64url(message.sig) : undefined;
  if (sig?.length !== 64) return false;
  return crypto.ed25519Verify(sig, signingBytes(kind, message), publicKey);
}

/** A signer for a 32-byte Ed25519 seed, using this platform's crypto backend. */
export function createSigner(seed: Uint8Array): Ed25519Signer {
  return backend.ed25519Signer(seed);
}

export function randomBytes(length: number): Uint8Array {
  return backend.randomBytes(length);
}

export function sha256(data: Uint8Array): Uint8Array {
  return backend.sha256(data);
}

export const cryptoBackend: CryptoBackend = backend;
