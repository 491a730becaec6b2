/**
 * A refund the wallet did not see finish (found by the crash test, issue 18 §1): the wallet was killed
 * while the broker held the refund pending, and the broker completed it afterwards; or another device of
 * the same customer refunded the chain. The broker then answers `chain_refunded`, and the wallet must mark
 * the chain refunded instead of failing every later refund and counting coins it no longer has.
 */
import { randomBytes, toBase64url } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../../broker/test/world.ts';
import { fundedWallet } from './fixtures.ts';

describe('wallet refund of a chain refunded without its answer [pglite]', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld('pglite');
  });
  afterAll(async () => {
    await w?.close();
  });

  it('marks the chain refunded, refunds the others, and the coins add up once', async () => {
    const wallet = await fundedWallet(w, 'refund-again', 10_000n, [{ coinValue: 10n, n: 30, count: 2 }]);
    const [first, second] = wallet.chains();
    // The refund went through at the broker, but this wallet never saw the answer.
    const elsewhere = await fetch(`${w.url}/me/chains/${first!.chainId}/refund`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${wallet.sessionToken}`,
        'content-type': 'application/json',
        'idempotency-key': toBase64url(randomBytes(12)),
      },
      body: JSON.stringify({ spentIndex: 0 }),
    });
    expect(elsewhere.status).toBe(200);
    expect((await wallet.balance()).coins).toBe(600n);

    const r = await wallet.refund();
    // Both chains are refunded in the wallet; only the second's money moves in this call.
    expect(r.chains.sort()).toEqual([first!.chainId, second!.chainId].sort());
    expect(r.amount).toBe(300n);
    expect(wallet.chains().map((c) => c.status)).toEqual(['refunded', 'refunded']);
    const b = await wallet.balance();
    expect(b.coins).toBe(0n);
    expect(b.atBroker).toBe(10_000n);
    // Asked again: nothing left to refund, no error.
    expect(await wallet.refund()).toEqual({ chains: [], amount: 0n });
    await w.audit();
  });
});
