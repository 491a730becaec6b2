import type { Queryable } from '@netpay/db';
import { allocate, currency, money, sha256, toBase64url, toHex, utf8 } from '@netpay/protocol';
import { type BrokerContext, newId } from '../context.ts';
import { fail } from '../errors.ts';
import { customerAccount, InsufficientFunds, SYSTEM_ACCOUNTS, vendorAccount } from '../ledger/ledger.ts';
import type { PartyService } from '../parties/service.ts';

const hash = (secret: string) => toHex(sha256(utf8(secret)));
const DAY_MS = 86_400_000n;

export type CapPeriod = 'day' | 'total';

interface GrantRow {
  id: string;
  customer_id: string;
  vendor_id: string;
  cap: bigint;
  period: CapPeriod;
  revoked_at: bigint | null;
  created_at: bigint;
}

/** A charge id the vendor picks (so it can void a charge whose answer it never got). */
export const CHARGE_ID_RE = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * Server-side wallets (NetPay's server-side e-wallet, Mobile-NetPay): the broker holds the customer's
 * money and pays vendors on the customer's behalf, so a customer with no wallet software (a phone
 * browser) can still pay per click. The customer signs in once at the broker (a redirect from the
 * vendor), which gives that vendor a grant with a spending cap per day or in total; the vendor then
 * charges the grant on each click with a signed request, and the broker moves the money in its ledger
 * (customer → vendor, minus the broker fee), refusing anything over the cap or the balance. A charge for
 * a response that failed is voided by the vendor, which puts the money back.
 */
export function createWalletService(
  ctx: BrokerContext,
  deps: {
    parties: PartyService;
    customerBalance: (q: Queryable, customerId: string) => Promise<bigint>;
  },
) {
  const { db, config, ledger } = ctx;

  function checkCap(cap: bigint) {
    if (cap < 0n || cap > config.wallet.maxCap) {
      throw fail('limit_exceeded', `a spending cap is between 0 and ${config.wallet.maxCap} minor units`);
    }
  }

  /** The vendor a sign-in is for, and a check that the redirect goes back to that vendor's own site. */
  async function vendorFor(vendorId: string, redirectUri: string) {
    const party = await deps.parties.get(vendorId);
    let target: URL;
    try {
      target = new URL(redirectUri);
    } catch {
      throw fail('bad_request', 'redirect_uri is not a URL');
    }
    if (
      (target.protocol !== 'https:' && target.protocol !== 'http:') ||
      !party.url ||
      new URL(party.url).origin !== target.origin
    ) {
      throw fail(
        'forbidden',
        `redirect_uri must be on ${vendorId}'s registered site${party.url ? ` (${new URL(party.url).origin})` : ''}`,
      );
    }
    return party;
  }

  /**
   * The customer approved vendor `vendorId`: creates or renews its grant (keeping an earlier cap unless a
   * new one is given) with a one-time code, and returns where to send the browser back to.
   */
  async function authorize(
    customerId: string,
    input: { vendorId: string; redirectUri: string; state?: string; cap?: bigint; period?: CapPeriod },
  ) {
    await vendorFor(input.vendorId, input.redirectUri);
    if (input.cap !== undefined) checkCap(input.cap);
    const code = toBase64url(ctx.random(32));
    const now = BigInt(ctx.clock());
    const expires = now + BigInt(config.wallet.codeTtlSeconds * 1000);
    const grant = await db.transaction(async (tx) => {
      const [g] = await tx.query<{ id: string; cap: bigint; period: CapPeriod }>(
        `INSERT INTO wallet_grants (id, customer_id, vendor_id, cap, period, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (customer_id, vendor_id) DO UPDATE SET revoked_at = NULL,
           cap = CASE WHEN $7 THEN $4 ELSE wallet_grants.cap END,
           period = CASE WHEN $8 THEN $5 ELSE wallet_grants.period END
         RETURNING id, cap, period`,
        [
          newId(ctx, 'grant'),
          customerId,
          input.vendorId,
          input.cap ?? config.wallet.defaultCap,
          input.period ?? 'day',
          now,
          input.cap !== undefined,
          input.period !== undefined,
        ],
      );
      await tx.query('INSERT INTO wallet_codes (code_hash, grant_id, expires_at) VALUES ($1, $2, $3)', [
        hash(code),
        g!.id,
        expires,
      ]);
      return g!;
    });
    const back = new URL(input.redirectUri);
    back.searchParams.set('code', code);
    if (input.state !== undefined) back.searchParams.set('state', input.state);
    return { redirect: back.toString(), grantId: grant.id, cap: grant.cap, period: grant.period };
  }

  /**
   * The vendor trades the one-time code for a token of its own for this browser (shown once; only its
   * hash is kept). Each browser that signs in gets its own token, so signing in on a phone leaves the
   * laptop's working.
   */
  async function exchange(vendorId: string, code: string) {
    const token = toBase64url(ctx.random(32));
    const grant = await db.transaction(async (tx) => {
      const [c] = await tx.query<{ grant_id: string }>(
        `DELETE FROM wallet_codes c USING wallet_grants g
         WHERE c.code_hash = $1 AND g.id = c.grant_id AND g.vendor_id = $2 AND c.expires_at >= $3
           AND g.revoked_at IS NULL
         RETURNING c.grant_id`,
        [hash(code), vendorId, BigInt(ctx.clock())],
      );
      if (!c) throw fail('grant_invalid', 'the sign-in code is unknown, used or expired; sign in again');
      await tx.query('INSERT INTO wallet_tokens (token_hash, grant_id, created_at) VALUES ($1, $2, $3)', [
        hash(token),
        c.grant_id,
        BigInt(ctx.clock()),
      ]);
      const [g] = await tx.query<GrantRow>('SELECT * FROM wallet_grants WHERE id = $1', [c.grant_id]);
      return g!;
    });
    return { grantId: grant.id, token, ...(await usage(db, grant)) };
  }

  async function spent(q: Queryable, grant: GrantRow): Promise<bigint> {
    const now = BigInt(ctx.clock());
    const since = grant.period === 'day' ? now - (now % DAY_MS) : 0n;
    const [row] = await q.query<{ spent: bigint }>(
      `SELECT COALESCE(sum(amount), 0)::int8 AS spent FROM wallet_charges
       WHERE grant_id = $1 AND status = 'charged' AND created_at >= $2`,
      [grant.id, since],
    );
    return row?.spent ?? 0n;
  }

  async function usage(q: Queryable, grant: GrantRow) {
    const s = await spent(q, grant);
    const remaining = grant.cap > s ? grant.cap - s : 0n;
    return { cap: grant.cap, period: grant.period, spent: s, remaining };
  }

  /** Charges `amount` to the grant behind `token` for vendor `vendorId`; runs in the caller's transaction. */
  async function charge(
    tx: Queryable,
    vendorId: string,
    input: {
      token: string;
      amount: bigint;
      resource?: string | undefined;
      payees?: readonly { payeeId: string; share: number }[] | undefined;
      chargeId?: string | undefined;
    },
  ) {
    if (input.amount <= 0n) throw fail('bad_request', 'amount must be positive');
    if (input.chargeId !== undefined && !CHARGE_ID_RE.test(input.chargeId))
      throw fail('bad_request', 'chargeId is 16–64 letters, digits, - or _');
    const [grant] = await tx.query<GrantRow>(
      `SELECT g.* FROM wallet_tokens t JOIN wallet_grants g ON g.id = t.grant_id
       WHERE t.token_hash = $1 AND g.vendor_id = $2 FOR UPDATE OF g`,
      [hash(input.token), vendorId],
    );
    if (!grant) throw fail('grant_invalid', 'no wallet grant has this token; the customer must sign in');
    if (grant.revoked_at !== null) throw fail('grant_revoked', 'the customer withdrew this grant');
    const before = await usage(tx, grant);
    if (input.amount > before.remaining) {
      throw fail(
        'spending_limit',
        `this would take ${before.spent + input.amount} of the customer's ${grant.cap} ${grant.period === 'day' ? 'daily ' : ''}cap for ${vendorId}`,
        { cap: grant.cap.toString(), spent: before.spent.toString(), period: grant.period },
      );
    }
    const balance = await deps.customerBalance(tx, grant.customer_id);
    if (balance - input.amount < config.limits.minBalance) {
      throw fail('insufficient_funds', 'the customer’s wallet does not hold enough for this');
    }
    const id = input.chargeId ? `wc_${input.chargeId}` : newId(ctx, 'charge');
    const [taken] = await tx.query('SELECT 1 FROM wallet_charges WHERE id = $1', [id]);
    if (taken) throw fail('bad_request', `charge ${input.chargeId} exists already: pick a new chargeId`);
    // The broker's fee, rounded up as at redemption; the rest split among the payees as a claim is.
    const fee = (input.amount * BigInt(config.feeBasisPoints) + 9_999n) / 10_000n;
    const from = customerAccount(grant.customer_id);
    const payees = input.payees ?? [{ payeeId: vendorId, share: 10_000 }];
    for (const p of payees) if (p.payeeId !== vendorId) await deps.parties.get(p.payeeId, tx);
    const parts = allocate(
      money(input.amount - fee, currency(config.currency.code, config.currency.exponent)),
      payees.map((p) => BigInt(p.share)),
    );
    try {
      await ledger.post(tx, [
        ...payees
          .map((p, k) => ({
            id: `${id}/p${k}`,
            debit: from,
            credit: vendorAccount(p.payeeId),
            amount: parts[k]!.minor as bigint,
            kind: 'wallet_charge',
            ref: grant.id,
          }))
          .filter((t) => t.amount > 0n),
        ...(fee > 0n
          ? [
              {
                id: `${id}/fee`,
                debit: from,
                credit: SYSTEM_ACCOUNTS.fees,
                amount: fee,
                kind: 'wallet_fee',
                ref: grant.id,
              },
            ]
          : []),
      ]);
    } catch (e) {
      if (e instanceof InsufficientFunds)
        throw fail('insufficient_funds', 'the customer’s wallet does not hold enough for this');
      throw e;
    }
    const now = BigInt(ctx.clock());
    await tx.query(
      `INSERT INTO wallet_charges (id, grant_id, amount, fee, resource, payees, status, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'charged', $7)`,
      [id, grant.id, input.amount, fee, input.resource ?? null, payees.length, now],
    );
    return {
      chargeId: id,
      grantId: grant.id,
      amount: input.amount,
      fee,
      cap: grant.cap,
      period: grant.period,
      spent: before.spent + input.amount,
      remaining: before.remaining - input.amount,
    };
  }

  /** Puts a charge's money back (the vendor's response failed). Voiding twice is a no-op. */
  async function voidCharge(tx: Queryable, vendorId: string, chargeId: string) {
    const [c] = await tx.query<{
      id: string;
      amount: bigint;
      fee: bigint;
      status: string;
      customer_id: string;
      payees: number;
    }>(
      `SELECT c.id, c.amount, c.fee, c.status, c.payees, g.customer_id FROM wallet_charges c
       JOIN wallet_grants g ON g.id = c.grant_id WHERE c.id IN ($1, $3) AND g.vendor_id = $2 FOR UPDATE OF c`,
      [chargeId, vendorId, `wc_${chargeId}`],
    );
    if (!c) throw fail('not_found', `no charge ${chargeId} by ${vendorId}`);
    if (c.status === 'charged') {
      // Every transfer the charge made (to each payee and the fee) goes back the other way.
      const ids = [...Array.from({ length: c.payees }, (_, k) => `p${k}`), 'fee'].map((p) => `${c.id}/${p}`);
      const made = await tx.query<{ id: string; credit_account: string; amount: bigint }>(
        'SELECT id, credit_account, amount FROM ledger_transfers WHERE id = ANY($1::text[])',
        [ids],
      );
      if (made.length !== c.payees + (c.fee > 0n ? 1 : 0))
        throw new Error(`charge ${c.id}: found ${made.length} of its transfers in the ledger`);
      const to = customerAccount(c.customer_id);
      try {
        await ledger.post(
          tx,
          made.map((t) => ({
            id: `${t.id}/void`,
            debit: t.credit_account,
            credit: to,
            amount: t.amount,
            kind: 'wallet_void',
            ref: c.id,
          })),
        );
      } catch (e) {
        if (e instanceof InsufficientFunds)
          throw fail(
            'insufficient_funds',
            'the payees’ balance no longer covers this charge (paid out already)',
          );
        throw e;
      }
      await tx.query("UPDATE wallet_charges SET status = 'voided', voided_at = $2 WHERE id = $1", [
        c.id,
        BigInt(ctx.clock()),
      ]);
    }
    return { chargeId: c.id, status: 'voided' as const, amount: c.amount };
  }

  /** The customer's grants, with what each vendor has spent in the current period. */
  async function grants(customerId: string) {
    const rows = await db.query<GrantRow & { vendor_name: string; signed_in: boolean }>(
      `SELECT g.*, p.name AS vendor_name,
              EXISTS (SELECT 1 FROM wallet_tokens t WHERE t.grant_id = g.id) AS signed_in
       FROM wallet_grants g JOIN parties p ON p.id = g.vendor_id
       WHERE g.customer_id = $1 ORDER BY g.created_at`,
      [customerId],
    );
    const out = [];
    for (const g of rows) {
      out.push({
        grantId: g.id,
        vendorId: g.vendor_id,
        vendorName: g.vendor_name,
        active: g.signed_in && g.revoked_at === null,
        ...(await usage(db, g)),
      });
    }
    return out;
  }

  /** Sets the customer's cap for a vendor (before or after signing in there). */
  async function setCap(customerId: string, vendorId: string, cap: bigint, period?: CapPeriod) {
    checkCap(cap);
    await deps.parties.get(vendorId);
    // Without a period the grant keeps its own (a new one is per day).
    await db.query(
      `INSERT INTO wallet_grants (id, customer_id, vendor_id, cap, period, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (customer_id, vendor_id) DO UPDATE SET cap = $4,
         period = CASE WHEN $7 THEN $5 ELSE wallet_grants.period END`,
      [
        newId(ctx, 'grant'),
        customerId,
        vendorId,
        cap,
        period ?? 'day',
        BigInt(ctx.clock()),
        period !== undefined,
      ],
    );
    return (await grants(customerId)).find((g) => g.vendorId === vendorId)!;
  }

  /** Withdraws a vendor's grant: its token stops working at once. Signing in there again renews it. */
  async function revoke(customerId: string, vendorId: string) {
    await db.transaction(async (tx) => {
      const [g] = await tx.query<{ id: string }>(
        'UPDATE wallet_grants SET revoked_at = $3 WHERE customer_id = $1 AND vendor_id = $2 RETURNING id',
        [customerId, vendorId, BigInt(ctx.clock())],
      );
      if (!g) throw fail('not_found', `you have no wallet grant for ${vendorId}`);
      await tx.query('DELETE FROM wallet_tokens WHERE grant_id = $1', [g.id]);
      await tx.query('DELETE FROM wallet_codes WHERE grant_id = $1', [g.id]);
    });
  }

  /** The customer's current cap for a vendor, if it has a grant there (to show on the sign-in page). */
  async function capOf(customerId: string, vendorId: string) {
    const [g] = await db.query<{ cap: bigint; period: CapPeriod }>(
      'SELECT cap, period FROM wallet_grants WHERE customer_id = $1 AND vendor_id = $2',
      [customerId, vendorId],
    );
    return g;
  }

  return { vendorFor, authorize, exchange, charge, voidCharge, grants, setCap, revoke, capOf };
}

export type WalletService = ReturnType<typeof createWalletService>;
