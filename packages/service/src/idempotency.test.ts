/**
 * A key claimed by a process that died before storing its answer (found by the crash test, issue 18 §1:
 * the broker killed while a refund or a load ran): a retry with the same key is not answered
 * `request_in_progress` for ever, but runs the request again once the claim is old enough.
 */
import { migrate } from '@netpay/db';
import { describeEachDatabase } from '@netpay/db/testing';
import { expect, it } from 'vitest';
import { ABANDONED_CLAIM_MS, IDEMPOTENCY_MIGRATION, idempotentCall, requestHash } from './idempotency.ts';

describeEachDatabase('idempotentCall after a crash', (open) => {
  it('runs a request again under its key once the first claim is abandoned, then replays it', async () => {
    const db = await open();
    await migrate(db, [IDEMPOTENCY_MIGRATION]);
    const t0 = 1_000_000;
    const request = { url: '/me/chains/c1/refund', body: { spentIndex: 3 } };
    // What a process killed between claiming the key and storing its answer leaves behind.
    await db.query(
      `INSERT INTO idempotency_keys (scope, key, request_hash, status, response, created_at)
       VALUES ('refund:cus_1', 'key-0000001', $1, 0, NULL, $2)`,
      [requestHash(request), BigInt(t0)],
    );
    let runs = 0;
    const call = (now: number) =>
      idempotentCall(db, { scope: 'refund:cus_1', key: 'key-0000001', request, now: () => now }, async () => {
        runs++;
        return { body: { refunded: runs } };
      });
    // Still young: it may be running in another process.
    await expect(call(t0 + 1_000)).rejects.toMatchObject({ code: 'request_in_progress' });
    expect(runs).toBe(0);
    // Abandoned: run once more, and that answer is the one kept.
    expect(await call(t0 + ABANDONED_CLAIM_MS)).toEqual({
      status: 200,
      body: { refunded: 1 },
      replayed: false,
    });
    expect(await call(t0 + ABANDONED_CLAIM_MS + 10)).toEqual({
      status: 200,
      body: { refunded: 1 },
      replayed: true,
    });
    expect(runs).toBe(1);
    // Another request under the same key is still refused.
    await expect(
      idempotentCall(
        db,
        { scope: 'refund:cus_1', key: 'key-0000001', request: { ...request, body: { spentIndex: 4 } } },
        async () => ({ body: {} }),
      ),
    ).rejects.toMatchObject({ code: 'idempotency_conflict' });
  });
});
