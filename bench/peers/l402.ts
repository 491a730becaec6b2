/**
 * The least an L402 gate (Lightning Labs' aperture) does per request, for the vendor benchmark to compare
 * against: the client presents `Authorization: L402 <macaroon>:<preimage>`; the gate checks that the
 * preimage hashes to the payment hash in the macaroon's id (one SHA-256), and the macaroon's HMAC chain
 * from its root key over the id and one caveat (two HMAC-SHA256). The invoice was paid beforehand, over
 * Lightning; this is the per-request part only. Written fairly: Node's crypto, Buffer base64, no library.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const CAVEAT = 'services=bench:0';

/** A macaroon with one caveat: `id` (payment hash ‖ token id) and its signature, as the server mints it. */
function mint(rootKey: Buffer, paymentHash: Buffer) {
  const id = Buffer.concat([paymentHash, randomBytes(16)]);
  const sig = chain(rootKey, id);
  return Buffer.concat([id, Buffer.from(CAVEAT), sig]);
}

/** HMAC(HMAC(rootKey, id), caveat): the macaroon's signature. */
function chain(rootKey: Buffer, id: Buffer) {
  const first = createHmac('sha256', rootKey).update(id).digest();
  return createHmac('sha256', first).update(CAVEAT).digest();
}

/** A valid `Authorization` value for a gate with `rootKey` (the customer paid the invoice: it has the preimage). */
export function l402Credential(rootKey: Buffer): string {
  const preimage = randomBytes(32);
  const macaroon = mint(rootKey, createHash('sha256').update(preimage).digest());
  return `L402 ${macaroon.toString('base64url')}:${preimage.toString('hex')}`;
}

/** True when `authorization` is a valid L402 credential for `rootKey`. */
export function l402Check(rootKey: Buffer, authorization: string | undefined): boolean {
  if (!authorization?.startsWith('L402 ')) return false;
  const [mac, pre] = authorization.slice(5).split(':');
  if (!mac || !pre) return false;
  const macaroon = Buffer.from(mac, 'base64url');
  const preimage = Buffer.from(pre, 'hex');
  if (macaroon.length !== 48 + CAVEAT.length + 32 || preimage.length !== 32) return false;
  const id = macaroon.subarray(0, 48);
  if (macaroon.subarray(48, 48 + CAVEAT.length).toString() !== CAVEAT) return false;
  const hash = createHash('sha256').update(preimage).digest();
  if (!timingSafeEqual(hash, id.subarray(0, 32))) return false;
  return timingSafeEqual(chain(rootKey, id), macaroon.subarray(48 + CAVEAT.length));
}
