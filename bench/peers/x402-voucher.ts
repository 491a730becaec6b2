/**
 * The least an x402 batch-settlement ("voucher") gate does per request, for the vendor benchmark to
 * compare against: the client sends `X-PAYMENT`, base64 JSON of a voucher `{ channel, cumulative }` and
 * its secp256k1 signature over the SHA-256 of the voucher; the gate verifies that one signature with the
 * channel's key and that the cumulative amount grew (the vouchers are settled on chain later, in a batch).
 * Written fairly: @noble/curves (the library x402's TypeScript SDK relies on through viem), one verify.
 */
import { createHash } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';

const digest = (channel: string, cumulative: number) =>
  createHash('sha256').update(`${channel}:${cumulative}`).digest();

/** A payer's channel: `count` vouchers of 1 unit each, in order, as `X-PAYMENT` values. */
export function x402Vouchers(secretKey: Uint8Array, channel: string, count: number): string[] {
  const out: string[] = [];
  for (let c = 1; c <= count; c++) {
    const sig = secp256k1.sign(digest(channel, c), secretKey, { prehash: false });
    const voucher = { channel, cumulative: c, sig: Buffer.from(sig).toString('base64url') };
    out.push(Buffer.from(JSON.stringify(voucher)).toString('base64'));
  }
  return out;
}

/** The gate: the channels' public keys, and the last cumulative amount each was paid up to. */
export function x402Gate(keys: ReadonlyMap<string, Uint8Array>) {
  const paid = new Map<string, number>();
  return (header: string | undefined): boolean => {
    if (!header) return false;
    let v: { channel?: unknown; cumulative?: unknown; sig?: unknown };
    try {
      v = JSON.parse(Buffer.from(header, 'base64').toString());
    } catch {
      return false;
    }
    if (typeof v.channel !== 'string' || typeof v.cumulative !== 'number' || typeof v.sig !== 'string')
      return false;
    const key = keys.get(v.channel);
    if (!key || v.cumulative <= (paid.get(v.channel) ?? 0)) return false;
    const sig = Buffer.from(v.sig, 'base64url');
    if (!secp256k1.verify(sig, digest(v.channel, v.cumulative), key, { prehash: false })) return false;
    paid.set(v.channel, v.cumulative);
    return true;
  };
}
