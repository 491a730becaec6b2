import vm from 'node:vm';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import vectors from '../test-vectors.json' with { type: 'json' };

/**
 * The package must run in browsers: bundled with the `browser` condition it pulls in no Node module, picks
 * the @noble backend, and works in a bare VM context that has only the globals a browser page has.
 */
describe('browser build', () => {
  it('bundles without Node modules and verifies the test vectors in a browser-like context', async () => {
    const out = await build({
      entryPoints: [new URL('./index.ts', import.meta.url).pathname],
      bundle: true,
      format: 'iife',
      globalName: 'NetPay',
      platform: 'browser',
      conditions: ['@netpay/source', 'browser'],
      write: false,
      logLevel: 'silent',
    });
    const code = out.outputFiles[0]!.text;
    expect(code).not.toMatch(/["']node:/);
    const context = vm.createContext({ crypto: globalThis.crypto, TextEncoder, TextDecoder });
    vm.runInContext(`${code}\nglobalThis.NetPay = NetPay;`, context);
    const np = context.NetPay;
    expect(np.cryptoBackend.name).toBe('noble');

    const ten = vectors.chains[1]!;
    const words = np.generateChain(np.fromHex(ten.seed), np.fromHex(ten.chainId), ten.n);
    expect(np.toHex(words[0])).toBe(ten.root);
    const t = np.decodeMessage('touchstone', vectors.touchstone.message);
    expect(t.ok).toBe(true);
    const keys = np.brokerKeyring([
      { brokerId: 'broker.test', keyId: 'k1', publicKey: np.fromHex(vectors.signingKey.publicKey) },
    ]);
    expect(np.verifyTouchstone(t.value, keys, t.value.issuedAt).ok).toBe(true);
    const signer = np.createSigner(np.fromHex(vectors.signingKey.seed));
    const { sig: _sig, ...body } = t.value;
    expect(np.signMessage('touchstone', body, signer).sig).toBe(t.value.sig);
    const { traversal } = np.ChainTraversal.create(np.randomBytes(32), np.randomBytes(16), 8);
    expect(traversal.next().index).toBe(1);
  });
});
