/**
 * Produces packages/protocol/test-vectors.json. Run once, review the output, commit it; the tests check
 * the code against the committed file and never regenerate it:
 *   npx tsx --conditions=node packages/protocol/scripts/make-vectors.ts > packages/protocol/test-vectors.json
 */
import { createHash } from 'node:crypto';
import {
  canonicalJson,
  createSigner,
  fromHex,
  generateChain,
  type IndexMessage,
  signingBytes,
  signMessage,
  type Touchstone,
  toBase64url,
  toHex,
  type Unsigned,
} from '../src/index.ts';

const label = (text: string) => createHash('sha256').update(text).digest();

function chainVector(n: number) {
  const seed = new Uint8Array(label(`NetPay test vector seed n=${n}`));
  const chainId = new Uint8Array(label(`NetPay test vector chain id n=${n}`).subarray(0, 16));
  const w = generateChain(seed, chainId, n);
  const listed = n <= 10 ? [...w.keys()] : [0, 1, 2, 3, 4, 5, n - 4, n - 3, n - 2, n - 1, n];
  return {
    n,
    seed: toHex(seed),
    chainId: toHex(chainId),
    chainIdBase64url: toBase64url(chainId),
    root: toHex(w[0]!),
    W: Object.fromEntries(listed.map((i) => [String(i), toHex(w[i]!)])),
  };
}

const chains = [1, 10, 1000].map(chainVector);
// RFC 8032 §7.1 TEST 1 key.
const keySeed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')!;
const signer = createSigner(keySeed);
const ten = chains[1]!;
const tenIds = fromHex(ten.chainId)!;

const touchstone: Unsigned<Touchstone> = {
  v: 1,
  chainId: toBase64url(tenIds),
  root: toBase64url(fromHex(ten.root)!),
  n: 10,
  coinValue: '5',
  currency: 'USD',
  exponent: 2,
  brokerId: 'broker.test',
  keyId: 'k1',
  issuedAt: 1767225600,
  expiresAt: 1775001600,
};
const index: Unsigned<IndexMessage> = {
  v: 1,
  chainId: toBase64url(tenIds),
  index: 3,
  payword: toBase64url(fromHex(ten.W['3']!)!),
  vendorId: 'vendor-a.test',
  handedTo: 'vendor-b.test',
  issuedAt: 1767229200,
};

function signed<K extends 'touchstone' | 'index'>(
  kind: K,
  body: Unsigned<Touchstone> | Unsigned<IndexMessage>,
) {
  const message = signMessage(kind, body as never, signer);
  return {
    message,
    canonicalJson: canonicalJson(body),
    signingBytes: toHex(signingBytes(kind, body as never)),
    signature: toHex(signer.sign(signingBytes(kind, body as never))),
  };
}

const vectors = {
  description:
    'NetPay protocol v1 test vectors. W(i) = SHA-256("NetPay/v1/chain" || chainId || u32be(i) || W(i+1)), W(n+1) = seed. Hex unless named base64url. Seeds and chain ids are SHA-256 of fixed labels, listed here. Signatures: Ed25519 over ASCII tag || 0x00 || RFC 8785 JSON without sig.',
  chains,
  signingKey: { seed: toHex(keySeed), publicKey: toHex(signer.publicKey) },
  touchstone: signed('touchstone', touchstone),
  index: signed('index', index),
};
process.stdout.write(`${JSON.stringify(vectors, null, 2)}\n`);
