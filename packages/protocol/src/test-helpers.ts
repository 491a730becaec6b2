/** Fixtures shared by this package's tests (not exported from the package). */
import { toBase64url } from './bytes.ts';
import { generateChain } from './chain.ts';
import type { IndexMessage, Touchstone } from './messages.ts';
import { createSigner, randomBytes, signMessage } from './sign.ts';
import { brokerKeyring } from './verify.ts';

export const NOW = 1_767_225_600;
export const broker = createSigner(new Uint8Array(32).fill(1));
export const vendorA = createSigner(new Uint8Array(32).fill(2));
export const vendorB = createSigner(new Uint8Array(32).fill(3));
export const keys = brokerKeyring([{ brokerId: 'broker.test', keyId: 'k1', publicKey: broker.publicKey }]);

export interface TestChain {
  readonly seed: Uint8Array;
  readonly id: Uint8Array;
  readonly chainId: string;
  readonly words: Uint8Array[];
  readonly touchstone: Touchstone;
}

export function makeChain(n = 20, overrides: Partial<Touchstone> = {}): TestChain {
  const seed = randomBytes(32);
  const id = randomBytes(16);
  const words = generateChain(seed, id, n);
  const chainId = toBase64url(id);
  const touchstone = signMessage(
    'touchstone',
    {
      v: 1,
      chainId,
      root: toBase64url(words[0]!),
      n,
      coinValue: '5',
      currency: 'USD',
      exponent: 2,
      brokerId: 'broker.test',
      keyId: 'k1',
      issuedAt: NOW - 60,
      expiresAt: NOW + 86_400,
      ...overrides,
    },
    broker,
  );
  return { seed, id, chainId, words, touchstone };
}

export function makeIndex(
  chain: TestChain,
  index: number,
  handedTo: string | null = 'vendor-b',
): IndexMessage {
  return signMessage(
    'index',
    {
      v: 1,
      chainId: chain.chainId,
      index,
      payword: toBase64url(chain.words[index]!),
      vendorId: 'vendor-a',
      handedTo,
      issuedAt: NOW,
    },
    vendorA,
  );
}

/** Flips one bit of a base64url string's bytes, keeping it well-formed base64url of the same length. */
export function flipBit(b64: string, bit: number, decode: (s: string) => Uint8Array | undefined): string {
  const bytes = Uint8Array.from(decode(b64)!);
  const i = bit % (bytes.length * 8);
  bytes[i >> 3]! ^= 1 << (i & 7);
  return toBase64url(bytes);
}
