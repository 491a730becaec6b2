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

  it('a slow first request taken over cannot store its late answer over the new one, nor release the key', async () => {
    const db = await open();
    await migrate(db, [IDEMPOTENCY_MIGRATION]);
    const t0 = 2_000_000;
    const request = { url: '/admin/settlement/run', body: {} };
    const args = (now: number) => ({ scope: 'settle', key: 'key-0000002', request, now: () => now });
    let finishFirst!: (outcome: 'answer' | 'fail') => void;
    const first = idempotentCall(db, args(t0), async () => {
      const outcome = await new Promise<'answer' | 'fail'>((r) => {
        finishFirst = r;
      });
      if (outcome === 'fail') throw new Error('the bank timed out');
      return { body: { run: 'first' } };
    });
    await new Promise((r) => setTimeout(r, 50)); // the first has claimed the key and is running
    const second = await idempotentCall(db, args(t0 + ABANDONED_CLAIM_MS), async () => ({
      body: { run: 'second' },
    }));
    expect(second.body).toEqual({ run: 'second' });
    finishFirst('answer');
    expect((await first).body).toEqual({ run: 'first' });
    // The key keeps the answer of the claim that holds it.
    const replay = await idempotentCall(db, args(t0 + ABANDONED_CLAIM_MS + 1), async () => ({ body: {} }));
    expect(replay).toEqual({ status: 200, body: { run: 'second' }, replayed: true });

    // A slow first request that fails after being taken over does not release the new claim.
    const other = { ...args(t0), key: 'key-0000003' };
    const slow = idempotentCall(db, other, async () => {
      await new Promise<'answer' | 'fail'>((r) => {
        finishFirst = r;
      });
      throw new Error('the bank timed out');
    });
    await new Promise((r) => setTimeout(r, 50));
    let release!: () => void;
    const taker = idempotentCall(db, { ...other, now: () => t0 + ABANDONED_CLAIM_MS }, async () => {
      await new Promise<void>((r) => {
        release = r;
      });
      return { body: { run: 'taker' } };
    });
    await new Promise((r) => setTimeout(r, 50));
    finishFirst('fail');
    await expect(slow).rejects.toThrow('the bank timed out');
    // Still claimed by the taker: a copy now is in progress, not run a third time.
    await expect(
      idempotentCall(db, { ...other, now: () => t0 + ABANDONED_CLAIM_MS + 1 }, async () => ({ body: {} })),
    ).rejects.toMatchObject({ code: 'request_in_progress' });
    release();
    expect((await taker).body).toEqual({ run: 'taker' });
  });
});
