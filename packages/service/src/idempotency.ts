import { IdempotencyKeySchema } from '@netpay/api';
import { type Db, type Migration, type Queryable, sqlMigrations } from '@netpay/db';
import { canonicalJson, InvariantError, sha256, toHex, utf8 } from '@netpay/protocol';
import { serviceError } from './errors.ts';

/** The idempotency_keys table every service keeps (migrations/, one numbered SQL file). */
export const IDEMPOTENCY_MIGRATION: Migration = sqlMigrations(new URL('./migrations/', import.meta.url))[0]!;

export { IdempotencyKeySchema };

export interface IdempotentResult<T> {
  readonly status: number;
  readonly body: T;
  /** True when this is the stored answer to an earlier request with the same key. */
  readonly replayed: boolean;
}

/**
 * The hash a key's request is compared by. A body with no canonical JSON (a number past the double range
 * such as `1e400`, which JSON.parse reads as Infinity) is the caller's fault: 400, not a 500.
 */
export function requestHash(request: unknown): string {
  let json: string;
  try {
    json = canonicalJson(request);
  } catch (e) {
    if (e instanceof InvariantError)
      throw serviceError('bad_request', `the request cannot be hashed: ${e.message}`);
    throw e;
  }
  return toHex(sha256(utf8(json)));
}

interface KeyArgs {
  readonly scope: string;
  readonly key: string | undefined;
  readonly request: unknown;
  readonly now?: () => number;
}

/**
 * How long a key may stay claimed without an answer (`idempotentCall`) before it counts as abandoned: the
 * process running its first request died (a crash between the work and storing its answer). The request
 * is then run again under the key. Money moves once either way (a load continues its bank movement, a
 * refund of a refunded chain is `chain_refunded`); other handlers may do their work twice if the first was
 * only slow (docs/broker.md §5). Longer than any of those handlers takes (a refund waits at most the
 * hand-over timeout for the chain's holder).
 */
export const ABANDONED_CLAIM_MS = 30_000;

/** The key, checked (8–128 printable characters), or a 400 `idempotency_key_required`. */
export function requireIdempotencyKey(key: string | undefined): string {
  const parsed = IdempotencyKeySchema.safeParse(key);
  if (!parsed.success) {
    throw serviceError(
      'idempotency_key_required',
      'send an Idempotency-Key header of 8–128 printable characters',
    );
  }
  return parsed.data;
}

/**
 * Claims (scope, key) for this request, or returns the earlier answer under it. A key used with another
 * request is a 409; with `inFlightIsError`, a claimed key with no answer yet (still running) is a 409 too.
 */
async function claimKey<T>(
  tx: Queryable,
  args: KeyArgs,
  key: string,
  hash: string,
  inFlightIsError: boolean,
  at: bigint,
): Promise<IdempotentResult<T> | null> {
  const claimed = await tx.query(
    `INSERT INTO idempotency_keys (scope, key, request_hash, status, response, created_at)
     VALUES ($1, $2, $3, 0, NULL, $4) ON CONFLICT (scope, key) DO NOTHING RETURNING 1 AS claimed`,
    [args.scope, key, hash, at],
  );
  if (claimed.length > 0) return null;
  const [row] = await tx.query<{ request_hash: string; status: number; response: T; created_at: bigint }>(
    'SELECT request_hash, status, response, created_at FROM idempotency_keys WHERE scope = $1 AND key = $2',
    [args.scope, key],
  );
  if (!row || row.request_hash !== hash) {
    throw serviceError('idempotency_conflict', 'this Idempotency-Key was used with a different request');
  }
  if (inFlightIsError && row.status === 0) {
    if (await takeOverAbandoned(tx, args, key, row.created_at, at)) return null;
    throw serviceError('request_in_progress', 'a request with this Idempotency-Key is still running');
  }
  return { status: row.status, body: row.response, replayed: true };
}

/**
 * Claims, as of `now`, a key whose first request has had no answer for ABANDONED_CLAIM_MS; false if it is
 * younger. The claim time then names the new claimant: the first request, if it was slow and not dead,
 * can no longer store its answer over the new one's (`storeAnswer`) or release the key when it fails.
 */
async function takeOverAbandoned(tx: Queryable, args: KeyArgs, key: string, claimedAt: bigint, now: bigint) {
  if (now - BigInt(claimedAt) < BigInt(ABANDONED_CLAIM_MS)) return false;
  // Compare-and-set on the claim time: of two retries taking it over at once, one wins.
  const taken = await tx.query(
    `UPDATE idempotency_keys SET created_at = $4
     WHERE scope = $1 AND key = $2 AND status = 0 AND created_at = $3 RETURNING 1 AS taken`,
    [args.scope, key, BigInt(claimedAt), now],
  );
  return taken.length > 0;
}

/** Stores the answer under a key this request claimed (at `claimedAt`, when given: still its claim). */
async function storeAnswer(
  q: Queryable,
  args: KeyArgs,
  key: string,
  status: number,
  body: unknown,
  claimedAt?: bigint,
) {
  await q.query(
    `UPDATE idempotency_keys SET status = $3, response = $4
     WHERE scope = $1 AND key = $2 AND ($5::int8 IS NULL OR (status = 0 AND created_at = $5))`,
    [args.scope, key, status, JSON.stringify(body), claimedAt ?? null],
  );
}

/**
 * Runs `fn` at most once per (scope, key), in the same transaction that records its answer: the same key
 * with the same request gets the stored answer; with a different request, a 409. The key row is claimed
 * first, so a concurrent duplicate waits for the first to commit (PostgreSQL) and then replays its answer.
 * A failure rolls everything back, so nothing is stored and the request may be retried.
 */
export async function idempotent<T>(
  db: Db,
  args: KeyArgs,
  fn: (tx: Queryable) => Promise<{ status?: number; body: T }>,
): Promise<IdempotentResult<T>> {
  const key = requireIdempotencyKey(args.key);
  const hash = requestHash(args.request);
  return db.transaction(async (tx) => {
    const prior = await claimKey<T>(tx, args, key, hash, false, BigInt(args.now?.() ?? Date.now()));
    if (prior) return prior;
    const out = await fn(tx);
    const status = out.status ?? 200;
    await storeAnswer(tx, args, key, status, out.body);
    return { status, body: out.body, replayed: false };
  });
}

/**
 * Idempotency for handlers that run their own transactions (or call other services): the key is claimed
 * first, the handler runs, and its answer is stored. A duplicate arriving while the first is still running
 * gets 409 `request_in_progress`; a handler that fails releases the key, so the request may be retried.
 * Money-moving handlers use `idempotent`, which records the answer in the same transaction as the work.
 */
export async function idempotentCall<T>(
  db: Db,
  args: KeyArgs,
  fn: () => Promise<{ status?: number; body: T }>,
): Promise<IdempotentResult<T>> {
  const key = requireIdempotencyKey(args.key);
  const hash = requestHash(args.request);
  const at = BigInt(args.now?.() ?? Date.now());
  const prior = await db.transaction((tx) => claimKey<T>(tx, args, key, hash, true, at));
  if (prior) return prior;
  try {
    const out = await fn();
    const status = out.status ?? 200;
    await storeAnswer(db, args, key, status, out.body, at);
    return { status, body: out.body, replayed: false };
  } catch (e) {
    await db.query(
      'DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = 0 AND created_at = $3',
      [args.scope, key, at],
    );
    throw e;
  }
}
