import {
  canonicalJson,
  concatBytes,
  cryptoBackend,
  type Ed25519Signer,
  fromBase64url,
  InvariantError,
  sha256,
  toBase64url,
  utf8,
} from '@netpay/protocol';
import { serviceError } from './errors.ts';

/**
 * Signed requests between NetPay parties (docs/signed-requests.md). A vendor or peer signs each request to
 * the broker, and vendors sign hand-over requests to each other, with its Ed25519 key:
 *
 *   NetPay-Key-Id:    the signer's party id (vendor id)
 *   NetPay-Timestamp: Unix seconds
 *   NetPay-Signature: base64url Ed25519 signature over
 *       "NetPay/v1/request" ‖ 0x00 ‖ JCS({ method, path, timestamp, bodyHash })
 *     where path includes the query string and bodyHash = base64url(SHA-256(JCS(body))) (body null if none).
 *
 * Signing the canonical JSON of the parsed body, not its raw bytes, lets any JSON encoder interoperate.
 */
export const SIGNED_REQUEST_TAG = 'NetPay/v1/request';
export const SIGNATURE_HEADERS = {
  keyId: 'netpay-key-id',
  timestamp: 'netpay-timestamp',
  signature: 'netpay-signature',
} as const;
/** Largest clock difference accepted between signer and verifier. */
export const MAX_REQUEST_SKEW_SECONDS = 300;

export interface RequestToSign {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

function signedBytes(req: RequestToSign, timestamp: number): Uint8Array {
  const bodyHash = toBase64url(sha256(utf8(canonicalJson(req.body ?? null))));
  const statement = canonicalJson({ method: req.method.toUpperCase(), path: req.path, timestamp, bodyHash });
  return concatBytes(utf8(SIGNED_REQUEST_TAG), Uint8Array.of(0), utf8(statement));
}

/**
 * The signed bytes of a request as received, or undefined when its body has no canonical JSON (a number
 * past the double range such as `1e400`, an object that is not plain JSON such as a parsed form): no signer
 * can have signed such a body, and hashing it must not fail the request with a 500.
 */
function receivedBytes(req: RequestToSign, timestamp: number): Uint8Array | undefined {
  try {
    return signedBytes(req, timestamp);
  } catch (e) {
    if (e instanceof InvariantError) return undefined;
    throw e;
  }
}

export function signRequest(signer: Ed25519Signer, keyId: string, req: RequestToSign, nowSeconds: number) {
  const timestamp = Math.floor(nowSeconds);
  return {
    [SIGNATURE_HEADERS.keyId]: keyId,
    [SIGNATURE_HEADERS.timestamp]: String(timestamp),
    [SIGNATURE_HEADERS.signature]: toBase64url(signer.sign(signedBytes(req, timestamp))),
  };
}

export interface IncomingSignedRequest extends RequestToSign {
  readonly headers: Record<string, string | string[] | undefined>;
}

/** A request header's value (the first, when it was sent more than once). */
export function headerValue(h: IncomingSignedRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Checks a signed request and returns the signer's id. Throws a 401 NetPayError (`signature_missing`,
 * `signature_invalid`, `signature_expired`, `unknown_signer`) otherwise.
 */
export async function verifySignedRequest(
  req: IncomingSignedRequest,
  lookupKey: (keyId: string) => Promise<Uint8Array | undefined>,
  nowSeconds: number,
): Promise<string> {
  const keyId = headerValue(req.headers, SIGNATURE_HEADERS.keyId);
  const ts = headerValue(req.headers, SIGNATURE_HEADERS.timestamp);
  const sig = headerValue(req.headers, SIGNATURE_HEADERS.signature);
  if (!keyId || !ts || !sig) {
    throw serviceError(
      'signature_missing',
      'this endpoint needs NetPay-Key-Id, NetPay-Timestamp and NetPay-Signature',
    );
  }
  if (!/^\d{1,12}$/.test(ts))
    throw serviceError('signature_invalid', 'NetPay-Timestamp must be Unix seconds');
  const timestamp = Number(ts);
  if (Math.abs(timestamp - nowSeconds) > MAX_REQUEST_SKEW_SECONDS) {
    throw serviceError('signature_expired', 'NetPay-Timestamp is more than 300 s away from the server clock');
  }
  const key = await lookupKey(keyId);
  if (!key) throw serviceError('unknown_signer', `no key is registered for ${keyId}`);
  const signature = fromBase64url(sig);
  const bytes = receivedBytes(req, timestamp);
  if (!signature || !bytes || !cryptoBackend.ed25519Verify(signature, bytes, key)) {
    throw serviceError('signature_invalid', 'the request signature does not verify');
  }
  return keyId;
}
