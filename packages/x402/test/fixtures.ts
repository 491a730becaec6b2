/** What the x402 tests share: a shop registered at the test broker, and a customer's funded wallet. */
import { type Ed25519Signer, toBase64url } from '@netpay/protocol';
import { openVendor } from '@netpay/vendor/server';
import { expect } from 'vitest';
import type { World } from '../../broker/test/world.ts';

/** The shop's vendor, opened as `netpay vendor start` opens one (PGlite and journal in `dataDir`), in USD/4. */
export const openShop = (w: World, vendorId: string, dataDir: string) =>
  openVendor({ vendorId, brokerUrl: w.url, currency: { code: 'USD', exponent: 4 }, dataDir, clock: w.clock });

/** Registers the shop at the test broker (dev mode) under `vendorId`, at `url`. */
export async function registerShop(w: World, vendorId: string, signer: Ed25519Signer, url: string) {
  const reg = await w.call('POST', '/parties', {
    signer: { id: vendorId, signer },
    body: { id: vendorId, name: vendorId, publicKey: toBase64url(signer.publicKey), url },
  });
  expect(reg.status, JSON.stringify(reg.body)).toBe(201);
}

export { fundedWallet } from '../../wallet/test/fixtures.ts';
