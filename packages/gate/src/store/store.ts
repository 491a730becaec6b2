import { type Db, type Migration, type Queryable, sqlMigrations } from '@netpay/db';
import { fromBase64url, type Touchstone, toBase64url } from '@netpay/protocol';

/** The vendor's schema, forward only: numbered SQL files in migrations/ (the file name is the id). */
export const VENDOR_MIGRATIONS: readonly Migration[] = sqlMigrations(
  new URL('./migrations/', import.meta.url),
);

/** What the vendor knows of one chain. Paywords as bytes in memory, base64url in the database. */
export interface HeldChain {
  readonly chainId: string;
  readonly touchstone: Touchstone;
  readonly startIndex: number;
  readonly startPayword: Uint8Array;
  acceptedIndex: number;
  acceptedPayword: Uint8Array;
  redeemedIndex: number;
  redeemedPayword: Uint8Array;
  status: 'held' | 'handed';
}

export interface Advance {
  readonly chainId: string;
  /** The accepted index this advance was verified against (compare-and-set). */
  readonly fromIndex: number;
  readonly toIndex: number;
  /** Payword at fromIndex (where this payment's coins start). */
  readonly fromPayword: Uint8Array;
  readonly payword: Uint8Array;
  /** Payees' shares as canonical JSON when the price names payees; otherwise the coins are the vendor's. */
  readonly payees?: string;
  readonly receipt: unknown;
}

/** A run of coins of one chain paid for at one set of payees' shares. */
export interface PayeeRun {
  readonly fromIndex: number;
  readonly fromPayword: string;
  readonly toIndex: number;
  readonly payword: string;
  readonly payees: string;
}

interface Row {
  chain_id: string;
  touchstone: Touchstone;
  start_index: number;
  start_payword: string;
  accepted_index: number;
  accepted_payword: string;
  redeemed_index: number;
  redeemed_payword: string;
  status: 'held' | 'handed';
}

const fromRow = (r: Row): HeldChain => ({
  chainId: r.chain_id,
  touchstone: r.touchstone,
  startIndex: r.start_index,
  startPayword: fromBase64url(r.start_payword)!,
  acceptedIndex: r.accepted_index,
  acceptedPayword: fromBase64url(r.accepted_payword)!,
  redeemedIndex: r.redeemed_index,
  redeemedPayword: fromBase64url(r.redeemed_payword)!,
  status: r.status,
});

export interface StoreOptions {
  readonly db: Db;
  readonly clock?: () => number;
  /** Most advances written in one transaction. Default 1,000. */
  readonly maxBatch?: number;
}

/**
 * The chain store: hot state in memory, written through to SQL by group commit — every advance waiting
 * when a flush starts goes into one transaction with multi-row statements, and each caller's promise
 * resolves when that transaction has committed. An advance is applied only if the row still has the
 * accepted index it was verified against (compare-and-set), so two instances over one PostgreSQL can
 * never both accept the same coin; the loser is told `false` and reloads.
 */
export function createChainStore(o: StoreOptions) {
  const { db } = o;
  const clock = o.clock ?? Date.now;
  const maxBatch = o.maxBatch ?? 1000;
  const cache = new Map<string, HeldChain>();
  /**
   * Per held chain, until when (this process's clock, ms) its lease lets it accept coins: in memory only,
   * so after a restart every chain's holding is renewed at the broker before its next coin is accepted.
   */
  const leases = new Map<string, number>();
  let queue: { advance: Advance; resolve: (ok: boolean) => void; reject: (e: unknown) => void }[] = [];
  let flushing = false;

  async function get(chainId: string): Promise<HeldChain | undefined> {
    const hit = cache.get(chainId);
    if (hit) return hit;
    return reload(chainId);
  }

  async function reload(chainId: string): Promise<HeldChain | undefined> {
    const [row] = await db.query<Row>('SELECT * FROM vendor_chains WHERE chain_id = $1', [chainId]);
    if (!row) {
      cache.delete(chainId);
      return undefined;
    }
    const chain = fromRow(row);
    cache.set(chainId, chain);
    return chain;
  }

  /** The broker granted or renewed this chain's lease: coins may be accepted until `untilMs` (local). */
  function setLease(chainId: string, untilMs: number): void {
    if (untilMs > (leases.get(chainId) ?? 0)) leases.set(chainId, untilMs);
  }

  /** Whether this vendor's lease on the chain lets it accept coins at `nowMs` (local clock). */
  function leaseValid(chainId: string, nowMs: number): boolean {
    return (leases.get(chainId) ?? 0) > nowMs;
  }

  /** Records that this vendor now holds a chain from `start` (first claim, hand-over or take-over). */
  async function hold(
    touchstone: Touchstone,
    start: { index: number; payword: Uint8Array },
  ): Promise<HeldChain> {
    const w = toBase64url(start.payword);
    await db.query(
      `INSERT INTO vendor_chains (chain_id, touchstone, start_index, start_payword, accepted_index, accepted_payword,
         redeemed_index, redeemed_payword, status, updated_at)
       VALUES ($1, $2, $3, $4, $3, $4, $3, $4, 'held', $5)
       ON CONFLICT (chain_id) DO UPDATE SET status = 'held', updated_at = $5, start_index = $3, start_payword = $4,
         accepted_index = $3, accepted_payword = $4, redeemed_index = $3, redeemed_payword = $4, backup_index = NULL, backup_payword = NULL,
         -- The answer to an earlier holding's last payment is not this holding's: a payword spent elsewhere
         -- must not be served here as a retry.
         last_receipt = NULL
       -- A chain this vendor (or another instance of it) holds already keeps its state: never go backwards.
       WHERE vendor_chains.status = 'handed' AND vendor_chains.accepted_index <= $3`,
      [touchstone.chainId, JSON.stringify(touchstone), start.index, w, BigInt(clock())],
    );
    return (await reload(touchstone.chainId))!;
  }

  /**
   * Marks a chain handed on (it accepts nothing more here) and returns its final state. What this holding
   * accepted and has not redeemed moves to vendor_ranges, to be redeemed later.
   */
  async function release(chainId: string): Promise<HeldChain | undefined> {
    leases.delete(chainId);
    await endHolding(chainId);
    return reload(chainId);
  }

  /**
   * Ends the current holding of a chain: it accepts nothing more here. Its range moves to vendor_ranges —
   * the redeemed part marked so, the rest (up to the accepted index) to redeem.
   */
  async function endHolding(chainId: string): Promise<void> {
    await db.transaction(async (tx) => {
      // Locked first, so a payment committing on another instance lands before or after, never between.
      await tx.query('SELECT 1 FROM vendor_chains WHERE chain_id = $1 FOR UPDATE', [chainId]);
      await tx.query(
        `INSERT INTO vendor_ranges (chain_id, from_index, from_payword, to_index, to_payword, redeemed)
         SELECT chain_id, start_index, start_payword, redeemed_index, redeemed_payword, true FROM vendor_chains
           WHERE chain_id = $1 AND status = 'held' AND redeemed_index > start_index
         UNION ALL
         SELECT chain_id, redeemed_index, redeemed_payword, accepted_index, accepted_payword, false FROM vendor_chains
           WHERE chain_id = $1 AND status = 'held' AND accepted_index > redeemed_index
         ON CONFLICT DO NOTHING`,
        [chainId],
      );
      await tx.query(
        `UPDATE vendor_chains SET status = 'handed', redeemed_index = accepted_index,
           redeemed_payword = accepted_payword, updated_at = $2 WHERE chain_id = $1`,
        [chainId, BigInt(clock())],
      );
    });
  }

  /** Ranges from earlier holdings still to redeem. */
  async function pendingRanges(limit = 500) {
    return db.query<{
      chain_id: string;
      from_index: number;
      from_payword: string;
      to_index: number;
      to_payword: string;
    }>(
      `SELECT chain_id, from_index, from_payword, to_index, to_payword FROM vendor_ranges
       WHERE NOT redeemed ORDER BY chain_id, from_index LIMIT $1`,
      [limit],
    );
  }

  /** Multi-party payments among the coins (from, to] of a chain, in chain order. */
  async function payeeRuns(chainId: string, from: number, to: number): Promise<PayeeRun[]> {
    const rows = await db.query<{
      from_index: number;
      from_payword: string;
      chain_index: number;
      payword: string;
      payees: string;
    }>(
      `SELECT from_index, from_payword, to_index AS chain_index, to_payword AS payword, payees
       FROM vendor_payee_payments WHERE chain_id = $1 AND to_index > $2 AND to_index <= $3
       ORDER BY to_index`,
      [chainId, from, to],
    );
    return rows.map((r) => ({
      fromIndex: r.from_index,
      fromPayword: r.from_payword,
      toIndex: r.chain_index,
      payword: r.payword,
      payees: r.payees,
    }));
  }

  /** Queues an advance; resolves true once committed, false if another writer advanced the chain first. */
  function commit(advance: Advance): Promise<boolean> {
    return new Promise((resolve, reject) => {
      queue.push({ advance, resolve, reject });
      if (!flushing) {
        flushing = true;
        // Start on the next turn of the event loop, after pending I/O: PGlite runs on this thread and its
        // queries resolve without yielding to I/O, so starting at once would commit one payment at a time.
        setImmediate(() => void flush());
      }
    });
  }

  async function flush(): Promise<void> {
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, maxBatch);
        queue = queue.slice(batch.length);
        try {
          const applied = await writeBatch(batch.map((b) => b.advance));
          for (const b of batch) {
            const ok = applied.has(`${b.advance.chainId}\n${b.advance.toIndex}`);
            if (ok) {
              const c = cache.get(b.advance.chainId);
              if (c && c.acceptedIndex < b.advance.toIndex) {
                c.acceptedIndex = b.advance.toIndex;
                c.acceptedPayword = b.advance.payword;
              }
            } else {
              cache.delete(b.advance.chainId);
            }
            b.resolve(ok);
          }
        } catch (e) {
          for (const b of batch) b.reject(e);
        }
        // Let requests that arrived meanwhile reach the queue before the next batch is taken.
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      flushing = false;
    }
  }

  /**
   * One statement for a round (one advance per chain): a multi-row compare-and-set UPDATE that also keeps
   * each chain's latest receipt, and records the multi-party payments among those applied. Being one
   * statement, it is atomic without a transaction of its own.
   */
  async function writeRound(q: Queryable, round: readonly Advance[], now: bigint): Promise<Set<string>> {
    const split = round.filter((a) => a.payees !== undefined);
    const rows = await q.query<{ chain_id: string; accepted_index: number }>(
      `WITH applied AS (
         UPDATE vendor_chains v SET accepted_index = a.to_index, accepted_payword = a.payword,
           last_receipt = a.receipt, updated_at = $6
         FROM unnest($1::text[], $2::int4[], $3::int4[], $4::text[], $5::text[])
           AS a(chain_id, from_index, to_index, payword, receipt)
         WHERE v.chain_id = a.chain_id AND v.accepted_index = a.from_index AND v.status = 'held'
         RETURNING v.chain_id, v.accepted_index, a.receipt,
           (a.to_index - a.from_index)::int8 * (v.touchstone->>'coinValue')::int8 AS amount
       ), revenue AS (
         -- A payment over several chains has one receipt on each: it counts once.
         INSERT INTO vendor_revenue (minute, amount, payments)
         SELECT $7, sum(amount), count(DISTINCT receipt) FROM applied HAVING count(*) > 0
         ON CONFLICT (minute) DO UPDATE SET amount = vendor_revenue.amount + excluded.amount,
           payments = vendor_revenue.payments + excluded.payments
       )${
         split.length === 0
           ? ''
           : `, payees AS (
         INSERT INTO vendor_payee_payments (chain_id, from_index, from_payword, to_index, to_payword, payees)
         SELECT p.chain_id, p.from_index, p.from_payword, p.to_index, p.to_payword, p.payees
         FROM unnest($8::text[], $9::int4[], $10::text[], $11::int4[], $12::text[], $13::text[])
           AS p(chain_id, from_index, from_payword, to_index, to_payword, payees)
         JOIN applied ON applied.chain_id = p.chain_id AND applied.accepted_index = p.to_index
         ON CONFLICT DO NOTHING
       )`
       }
       SELECT chain_id, accepted_index FROM applied`,
      [
        round.map((a) => a.chainId),
        round.map((a) => a.fromIndex),
        round.map((a) => a.toIndex),
        round.map((a) => toBase64url(a.payword)),
        round.map((a) => JSON.stringify(a.receipt)),
        now,
        now - (now % 60_000n),
        ...(split.length === 0
          ? []
          : [
              split.map((a) => a.chainId),
              split.map((a) => a.fromIndex),
              split.map((a) => toBase64url(a.fromPayword)),
              split.map((a) => a.toIndex),
              split.map((a) => toBase64url(a.payword)),
              split.map((a) => a.payees!),
            ]),
      ],
    );
    return new Set(rows.map((r) => `${r.chain_id}\n${r.accepted_index}`));
  }

  /** One round per distinct chain; a batch of distinct chains (the usual case) is one statement. */
  function rounds(advances: readonly Advance[]): Advance[][] {
    const out: Advance[][] = [];
    const depth = new Map<string, number>();
    for (const a of advances) {
      const k = depth.get(a.chainId) ?? 0;
      depth.set(a.chainId, k + 1);
      const round = out[k];
      if (round) round.push(a);
      else out.push([a]);
    }
    return out;
  }

  async function writeBatch(advances: Advance[]): Promise<Set<string>> {
    const now = BigInt(clock());
    const all = rounds(advances);
    if (all.length === 1) return writeRound(db, all[0]!, now);
    return db.transaction(async (tx) => {
      const applied = new Set<string>();
      for (const round of all) for (const k of await writeRound(tx, round, now)) applied.add(k);
      return applied;
    });
  }

  /**
   * Commits all advances of one payment or none. One chain: through group commit. Several chains: in a
   * transaction of their own, so a conflict on one chain leaves the others untouched too.
   */
  async function commitAll(advances: readonly Advance[]): Promise<boolean> {
    if (advances.length === 1) return commit(advances[0]!);
    const conflict = new Error('conflict');
    try {
      await db.transaction(async (tx) => {
        const applied = await writeRound(tx, advances, BigInt(clock()));
        if (applied.size !== advances.length) throw conflict;
      });
    } catch (e) {
      if (e !== conflict) throw e;
      for (const a of advances) cache.delete(a.chainId);
      return false;
    }
    for (const a of advances) {
      const c = cache.get(a.chainId);
      if (c && c.acceptedIndex < a.toIndex) {
        c.acceptedIndex = a.toIndex;
        c.acceptedPayword = a.payword;
      }
    }
    return true;
  }

  /** The answer given to a chain's latest payment, if `index` is still that payment's. */
  async function receipt(chainId: string, index: number): Promise<unknown | undefined> {
    const [row] = await db.query<{ last_receipt: string | null }>(
      'SELECT last_receipt FROM vendor_chains WHERE chain_id = $1 AND accepted_index = $2',
      [chainId, index],
    );
    return row?.last_receipt ? JSON.parse(row.last_receipt) : undefined;
  }

  /**
   * A server-side wallet charge the vendor keeps (its response succeeded): recorded with its payees, and
   * added to the revenue per minute, in one statement; once only.
   */
  async function keepWalletCharge(c: { chargeId: string; amount: bigint; payees?: string }): Promise<void> {
    const now = BigInt(clock());
    await db.query(
      `WITH kept AS (
         INSERT INTO vendor_wallet_charges (charge_id, amount, payees, status, at)
         VALUES ($1, $2, $3, 'kept', $4) ON CONFLICT (charge_id) DO NOTHING RETURNING amount
       )
       INSERT INTO vendor_revenue (minute, amount, payments) SELECT $5, amount, 1 FROM kept
       ON CONFLICT (minute) DO UPDATE SET amount = vendor_revenue.amount + excluded.amount,
         payments = vendor_revenue.payments + 1`,
      [c.chargeId, c.amount, c.payees ?? null, now, now - (now % 60_000n)],
    );
  }

  /**
   * A charge to void that the broker could not be told of yet (`void_pending`: a later round voids it),
   * or that it refused to void (`void_refused`: owed to the customer). Never a charge the vendor kept.
   */
  async function voidLater(
    chargeId: string,
    amount: bigint,
    status: 'void_pending' | 'void_refused' = 'void_pending',
  ): Promise<void> {
    await db.query(
      `INSERT INTO vendor_wallet_charges (charge_id, amount, payees, status, at) VALUES ($1, $2, NULL, $4, $3)
       ON CONFLICT (charge_id) DO UPDATE SET status = excluded.status
       WHERE vendor_wallet_charges.status <> 'kept'`,
      [chargeId, amount, BigInt(clock()), status],
    );
  }

  async function voidsPending(limit = 100): Promise<string[]> {
    const rows = await db.query<{ charge_id: string }>(
      `SELECT charge_id FROM vendor_wallet_charges WHERE status = 'void_pending' ORDER BY at LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.charge_id);
  }

  async function markVoided(chargeId: string, status: 'voided' | 'void_refused' = 'voided'): Promise<void> {
    await db.query(`UPDATE vendor_wallet_charges SET status = $2 WHERE charge_id = $1`, [chargeId, status]);
  }

  /** Revenue per minute since `sinceMs` (gross, minor units), oldest first. */
  async function revenue(sinceMs: number) {
    const rows = await db.query<{ minute: bigint; amount: bigint; payments: number }>(
      'SELECT minute, amount, payments FROM vendor_revenue WHERE minute >= $1 ORDER BY minute',
      [BigInt(sinceMs)],
    );
    return rows.map((r) => ({ minute: Number(r.minute), amount: r.amount.toString(), payments: r.payments }));
  }

  /**
   * What each payee's share of the multi-party payments came to (gross, before the broker fee): coins, and
   * server-side wallet charges kept.
   */
  async function payeeTotals() {
    const rows = await db.query<{ payees: string; value: bigint }>(
      `SELECT p.payees, sum(p.to_index - p.from_index)::int8 * (c.touchstone->>'coinValue')::int8 AS value
       FROM vendor_payee_payments p JOIN vendor_chains c ON c.chain_id = p.chain_id
       GROUP BY p.payees, c.touchstone->>'coinValue'
       UNION ALL
       SELECT payees, sum(amount)::int8 FROM vendor_wallet_charges
       WHERE status = 'kept' AND payees IS NOT NULL GROUP BY payees`,
    );
    const totals = new Map<string, bigint>();
    for (const r of rows) {
      const value = r.value;
      for (const p of JSON.parse(r.payees) as { payeeId: string; share: number }[]) {
        totals.set(p.payeeId, (totals.get(p.payeeId) ?? 0n) + (value * BigInt(p.share)) / 10_000n);
      }
    }
    return [...totals].map(([payeeId, amount]) => ({ payeeId, amount: amount.toString() }));
  }

  /** Chains with accepted coins not yet redeemed. */
  async function unredeemed(limit = 200): Promise<HeldChain[]> {
    const rows = await db.query<Row>(
      'SELECT * FROM vendor_chains WHERE accepted_index > redeemed_index ORDER BY updated_at LIMIT $1',
      [limit],
    );
    return rows.map(fromRow);
  }

  /** Held chains whose latest coins the broker has no backup of yet, most recently used first. */
  async function heldChains(limit = 1000): Promise<HeldChain[]> {
    const rows = await db.query<Row>(
      `SELECT * FROM vendor_chains WHERE status = 'held' AND accepted_index > COALESCE(backup_index, start_index)
       ORDER BY updated_at DESC LIMIT $1`,
      [limit],
    );
    return rows.map(fromRow);
  }

  /** Every chain this vendor holds, in chain id order after `cursor` (a sweep after a restart). */
  async function heldChainsAfter(cursor: string, limit = 1000): Promise<HeldChain[]> {
    const rows = await db.query<Row>(
      `SELECT * FROM vendor_chains WHERE status = 'held' AND chain_id > $1 ORDER BY chain_id LIMIT $2`,
      [cursor, limit],
    );
    return rows.map(fromRow);
  }

  /** The broker holds a backup of this holding up to `index`. */
  async function markBackedUp(chainId: string, index: number, payword: Uint8Array): Promise<void> {
    await db.query(
      `UPDATE vendor_chains SET backup_index = $2, backup_payword = $3
       WHERE chain_id = $1 AND status = 'held' AND COALESCE(backup_index, -1) < $2 AND accepted_index >= $2`,
      [chainId, index, toBase64url(payword)],
    );
  }

  /**
   * The broker moved the chain on without this vendor's hand-over answer (its lease ran out: a take-over,
   * or a refund it did not answer), or refunded it: it accepts the chain no more here. Every coin it
   * accepted was accepted under its lease and stays its own to redeem (docs/protocol.md §8.4).
   */
  async function releaseTakenOver(chainId: string): Promise<void> {
    leases.delete(chainId);
    await endHolding(chainId);
    cache.delete(chainId);
  }

  async function markRedeemed(chainId: string, index: number, payword: Uint8Array): Promise<void> {
    await db.query(
      'UPDATE vendor_chains SET redeemed_index = $2, redeemed_payword = $3 WHERE chain_id = $1 AND redeemed_index < $2',
      [chainId, index, toBase64url(payword)],
    );
    const c = cache.get(chainId);
    if (c && c.redeemedIndex < index) {
      c.redeemedIndex = index;
      c.redeemedPayword = payword;
    }
  }

  interface ClaimRow {
    claim_id: string;
    chain_id: string;
    from_index: number;
    to_index: number;
    earlier: boolean;
    claim: unknown;
  }

  /**
   * Writes claims as sent, before they go to the broker, and in the same transaction marks the earlier
   * holdings' ranges they cover as claimed: from here on the claims (resent until answered) carry them.
   */
  async function recordClaims(
    rows: readonly ClaimRow[],
    claimedRanges: readonly { chainId: string; fromIndex: number }[] = [],
  ): Promise<void> {
    if (rows.length === 0) return;
    await db.transaction(async (tx) => {
      await insertClaims(tx, rows);
      if (claimedRanges.length > 0) {
        await tx.query(
          `UPDATE vendor_ranges r SET redeemed = true FROM unnest($1::text[], $2::int4[]) AS x(c, f)
           WHERE r.chain_id = x.c AND r.from_index = x.f`,
          [claimedRanges.map((r) => r.chainId), claimedRanges.map((r) => r.fromIndex)],
        );
      }
    });
  }

  async function insertClaims(tx: Queryable, rows: readonly ClaimRow[]): Promise<void> {
    await tx.query(
      `INSERT INTO vendor_claims (claim_id, chain_id, from_index, to_index, earlier, claim, status, created_at)
       SELECT c, ch, f, t, e, j::jsonb, 'sent', $7 FROM unnest($1::text[], $2::text[], $3::int4[], $4::int4[], $5::bool[], $6::text[])
         AS x(c, ch, f, t, e, j)
       ON CONFLICT (claim_id) DO NOTHING`,
      [
        rows.map((r) => r.claim_id),
        rows.map((r) => r.chain_id),
        rows.map((r) => r.from_index),
        rows.map((r) => r.to_index),
        rows.map((r) => r.earlier),
        rows.map((r) => JSON.stringify(r.claim)),
        BigInt(clock()),
      ],
    );
  }

  /** Claims sent whose answer never arrived: to be resent unchanged. */
  async function sentClaims(): Promise<ClaimRow[]> {
    return db.query<ClaimRow>(
      "SELECT claim_id, chain_id, from_index, to_index, earlier, claim FROM vendor_claims WHERE status = 'sent' ORDER BY created_at",
    );
  }

  /** Records the broker's answer to a claim and settles its range (credited or definitively refused). */
  async function settleClaim(
    c: ClaimRow,
    status: 'credited' | 'refused',
    code: string | null,
    amount: bigint | null,
  ) {
    await db.query('UPDATE vendor_claims SET status = $2, code = $3, amount = $4 WHERE claim_id = $1', [
      c.claim_id,
      status,
      code,
      amount,
    ]);
    // An earlier holding's range was marked when its claims were recorded; the current one moves now.
    const to = (c.claim as { to: { payword: string } }).to.payword;
    if (!c.earlier) await markRedeemed(c.chain_id, c.to_index, fromBase64url(to)!);
  }

  /** What this vendor accepted and redeemed, in coins and minor units, over all chains. */
  async function statement() {
    const [current] = await db.query<{ accepted: bigint; chains: bigint }>(
      `SELECT COALESCE(sum((accepted_index - start_index)::int8 * (touchstone->>'coinValue')::int8), 0)::int8 AS accepted,
              count(*)::int8 AS chains
       FROM vendor_chains WHERE status = 'held'`,
    );
    const [earlier] = await db.query<{ accepted: bigint }>(
      `SELECT COALESCE(sum((r.to_index - r.from_index)::int8 * (c.touchstone->>'coinValue')::int8), 0)::int8 AS accepted
       FROM vendor_ranges r JOIN vendor_chains c ON c.chain_id = r.chain_id`,
    );
    const [claims] = await db.query<{ credited: bigint; refused: bigint; pending: bigint }>(
      `SELECT COALESCE(sum(amount) FILTER (WHERE status = 'credited'), 0)::int8 AS credited,
              count(*) FILTER (WHERE status = 'refused')::int8 AS refused,
              count(*) FILTER (WHERE status = 'sent')::int8 AS pending
       FROM vendor_claims`,
    );
    const [wallet] = await db.query<{ kept: bigint; pending: bigint; owed: bigint }>(
      `SELECT COALESCE(sum(amount) FILTER (WHERE status = 'kept'), 0)::int8 AS kept,
              COALESCE(sum(amount) FILTER (WHERE status = 'void_pending'), 0)::int8 AS pending,
              COALESCE(sum(amount) FILTER (WHERE status = 'void_refused'), 0)::int8 AS owed
       FROM vendor_wallet_charges`,
    );
    const missing = await missingCoins();
    const accepted = (current?.accepted ?? 0n) + (earlier?.accepted ?? 0n);
    const credited = claims?.credited ?? 0n;
    const lost = missing.reduce((a, m) => a + BigInt(m.amount), 0n);
    return {
      chains: Number(current?.chains ?? 0n),
      accepted: accepted.toString(),
      redeemed: credited.toString(),
      /**
       * Reconciliation: every coin receipted is credited, waiting to be (not claimed yet, or its claim not
       * answered), or missing — claimed and refused by the broker. Missing coins are listed.
       */
      awaitingRedemption: (accepted - credited - lost).toString(),
      missing: lost.toString(),
      missingRanges: missing,
      refusedClaims: Number(claims?.refused ?? 0n),
      claimsAwaitingAnswer: Number(claims?.pending ?? 0n),
      /** Server-side wallet sales kept; voids waiting for the broker; voids it refused (owed to customers). */
      walletCharged: (wallet?.kept ?? 0n).toString(),
      walletVoidsPending: (wallet?.pending ?? 0n).toString(),
      walletOwed: (wallet?.owed ?? 0n).toString(),
    };
  }

  /** Coins this vendor receipted whose claims the broker refused (up to 100 ranges, newest first). */
  async function missingCoins() {
    const rows = await db.query<{
      chain_id: string;
      from_index: number;
      to_index: number;
      code: string | null;
      amount: bigint;
    }>(
      `SELECT k.chain_id, k.from_index, k.to_index, k.code,
              ((k.to_index - k.from_index)::int8 * (c.touchstone->>'coinValue')::int8)::int8 AS amount
       FROM vendor_claims k JOIN vendor_chains c ON c.chain_id = k.chain_id
       WHERE k.status = 'refused' ORDER BY k.created_at DESC LIMIT 100`,
    );
    return rows.map((r) => ({
      chainId: r.chain_id,
      fromIndex: r.from_index,
      toIndex: r.to_index,
      code: r.code ?? 'rejected',
      amount: r.amount.toString(),
    }));
  }

  return {
    statement,
    revenue,
    keepWalletCharge,
    voidLater,
    voidsPending,
    markVoided,
    payeeTotals,
    recordClaims,
    sentClaims,
    settleClaim,
    get,
    reload,
    hold,
    release,
    commit,
    commitAll,
    receipt,
    unredeemed,
    heldChains,
    heldChainsAfter,
    markBackedUp,
    releaseTakenOver,
    setLease,
    leaseValid,
    markRedeemed,
    pendingRanges,
    payeeRuns,
  };
}

export type ChainStore = ReturnType<typeof createChainStore>;
