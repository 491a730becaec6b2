import {
  type Claim,
  type Ed25519Signer,
  isNetPayError,
  type PayeeShare,
  sha256,
  signMessage,
  toBase64url,
  utf8,
} from '@netpay/protocol';
import { type BrokerClient, refusedByBroker } from '../broker-client.ts';
import { leaseEnd } from '../chains/lease.ts';
import type { ChainStore, HeldChain } from '../store/store.ts';

interface Range {
  chainId: string;
  from: { index: number; payword: string };
  to: { index: number; payword: string };
  /** Range of an earlier holding (vendor_ranges) rather than the current one. */
  earlier: boolean;
  /** Payees' shares of every coin in the range; absent: all the vendor's. */
  payees?: PayeeShare[];
}

/** Claims per redemption request (the broker takes up to 200). */
const BATCH = 100;

/**
 * Redeems what the vendor accepted, on a schedule and on demand. A range's claim id is derived from the
 * range itself, so a request whose answer was lost is simply sent again and the broker replays its answer
 * instead of crediting twice. Also pushes the latest index of each held chain to the broker as a backup,
 * so a take-over after this vendor goes down starts from there.
 */
export function createRedeemer(o: {
  vendorId: string;
  signer: Ed25519Signer;
  broker: BrokerClient;
  store: ChainStore;
  clock?: () => number;
  /** As the gate's: how much sooner than the broker's lease this vendor stops accepting (ms). */
  leaseMarginMs?: number;
}) {
  const clock = o.clock ?? Date.now;
  const leaseMarginMs = o.leaseMarginMs ?? 2_000;
  const backedUp = new Map<string, number>();
  /** The broker's lease length, as its last renewal said: backups run at least three times a lease. */
  let leaseMs = Number.POSITIVE_INFINITY;

  function claimId(r: Range): string {
    return toBase64url(
      sha256(utf8(`${o.vendorId}\n${r.chainId}\n${r.from.index}\n${r.to.index}`)).subarray(0, 16),
    );
  }

  async function ranges(): Promise<Range[]> {
    const earlier = (await o.store.pendingRanges()).map((r) => ({
      chainId: r.chain_id,
      from: { index: r.from_index, payword: r.from_payword },
      to: { index: r.to_index, payword: r.to_payword },
      earlier: true,
    }));
    const current = (await o.store.unredeemed()).map((c) => ({
      chainId: c.chainId,
      from: { index: c.redeemedIndex, payword: toBase64url(c.redeemedPayword) },
      to: { index: c.acceptedIndex, payword: toBase64url(c.acceptedPayword) },
      earlier: false,
    }));
    return [...earlier, ...current];
  }

  /**
   * Cuts a range where the payees change: each run of payments made at one set of payees' shares becomes
   * a claim of its own carrying those shares, so the broker credits every payee its share of exactly the
   * coins paid at that price. Coins between multi-party payments are the vendor's.
   */
  async function byPayees(r: Range): Promise<Range[]> {
    const runs = await o.store.payeeRuns(r.chainId, r.from.index, r.to.index);
    if (runs.length === 0) return [r];
    const out: Range[] = [];
    let at = r.from;
    const push = (to: { index: number; payword: string }, payees?: string) => {
      const last = out.at(-1);
      const shares = payees === undefined ? undefined : (JSON.parse(payees) as PayeeShare[]);
      if (last && last.to.index === at.index && JSON.stringify(last.payees) === JSON.stringify(shares)) {
        last.to = to;
      } else {
        out.push({ ...r, from: at, to, ...(shares ? { payees: shares } : {}) });
      }
      at = to;
    };
    for (const run of runs) {
      if (run.fromIndex < at.index) continue; // began before this range (a take-over start): the vendor's
      if (run.fromIndex > at.index) push({ index: run.fromIndex, payword: run.fromPayword });
      push({ index: run.toIndex, payword: run.payword }, run.payees);
    }
    if (at.index < r.to.index) push(r.to);
    return out;
  }

  /**
   * Redeems every accepted, unredeemed range now. Each claim is written down before it is sent; a claim
   * whose answer was lost is resent unchanged (the broker replays its answer) before any new claim is made
   * for that chain, so a range is never claimed twice under different ids. Only a credited claim counts as
   * redeemed; a refused one is kept with its code and not retried.
   */
  async function redeem() {
    const resend = await o.store.sentClaims();
    const waiting = new Set(resend.map((c) => c.chain_id));
    const whole = (await ranges()).filter((r) => !waiting.has(r.chainId));
    const fresh: Range[] = [];
    for (const r of whole) fresh.push(...(await byPayees(r)));
    const rows = fresh.map((r) => {
      const claim: Claim = signMessage(
        'claim',
        {
          v: 1,
          claimId: claimId(r),
          vendorId: o.vendorId,
          chainId: r.chainId,
          from: r.from,
          to: r.to,
          ...(r.payees ? { payees: r.payees } : {}),
          issuedAt: Math.floor(clock() / 1000),
        },
        o.signer,
      );
      return {
        claim_id: claim.claimId,
        chain_id: r.chainId,
        from_index: r.from.index,
        to_index: r.to.index,
        earlier: r.earlier,
        claim,
      };
    });
    await o.store.recordClaims(
      rows,
      whole.filter((r) => r.earlier).map((r) => ({ chainId: r.chainId, fromIndex: r.from.index })),
    );
    const all = [...resend, ...rows];
    const out = {
      claims: all.length,
      credited: 0,
      rejected: 0,
      amount: 0n,
      codes: {} as Record<string, number>,
    };
    for (let i = 0; i < all.length; i += BATCH) {
      const batch = all.slice(i, i + BATCH);
      const answer = await o.broker.redeem(batch.map((c) => c.claim));
      const byId = new Map(answer.results.map((r) => [r.claimId, r]));
      for (const c of batch) {
        const result = byId.get(c.claim_id);
        if (!result) continue; // no answer for it: resent next round
        if (result.status === 'credited') {
          out.credited++;
          out.amount += BigInt(result.amount ?? '0');
          await o.store.settleClaim(c, 'credited', null, BigInt(result.amount ?? '0'));
        } else {
          out.rejected++;
          const code = result.code ?? 'rejected';
          out.codes[code] = (out.codes[code] ?? 0) + 1;
          await o.store.settleClaim(c, 'refused', code, null);
        }
      }
    }
    return { ...out, amount: out.amount.toString() };
  }

  /** Where the sweep of every held chain after a start has got to; null once it is done. */
  let sweep: string | null = '';

  /**
   * Pushes a signed index for every held chain that advanced since its last backup; each push renews the
   * chain's lease (idle chains' leases run out, and their next payment renews them at the broker). After a
   * start it also sweeps every held chain once (1,000 a round): a chain the broker moved on or refunded
   * while this vendor was away is found out here and stops being accepted.
   */
  async function backup() {
    let pushed = 0;
    const due = await o.store.heldChains(1000);
    let swept: HeldChain[] = [];
    if (sweep !== null) {
      swept = await o.store.heldChainsAfter(sweep, 1000);
      sweep = swept.length === 1000 ? swept.at(-1)!.chainId : null;
    }
    const seen = new Set<string>();
    for (const c of [...due, ...swept]) {
      if (seen.has(c.chainId)) continue;
      seen.add(c.chainId);
      const fresh = (backedUp.get(c.chainId) ?? -1) < c.acceptedIndex;
      if (!fresh && !swept.includes(c)) continue;
      const index = signMessage(
        'index',
        {
          v: 1,
          chainId: c.chainId,
          index: c.acceptedIndex,
          payword: toBase64url(c.acceptedPayword),
          vendorId: o.vendorId,
          handedTo: null,
          issuedAt: Math.floor(clock() / 1000),
        },
        o.signer,
      );
      try {
        const sentAt = clock();
        const r = await o.broker.backup(index);
        if (!r.refunding && r.leaseMs > 0) leaseMs = r.leaseMs;
        // While the owner refunds the chain the lease is not renewed: what is left of it stands.
        o.store.setLease(c.chainId, leaseEnd(sentAt, r.leaseMs, leaseMarginMs));
        backedUp.set(c.chainId, c.acceptedIndex);
        await o.store.markBackedUp(c.chainId, c.acceptedIndex, c.acceptedPayword);
        pushed++;
      } catch (e) {
        // Moved on after this vendor's lease ran out, or refunded: stop accepting the chain here. What it
        // accepted (under its lease) stays its own to redeem.
        if (isNetPayError(e, 'chain_not_held', 'chain_refunded', 'chain_expired'))
          await o.store.releaseTakenOver(c.chainId);
        // otherwise the broker is unreachable: the next round tries again
      }
    }
    return { pushed };
  }

  /**
   * Voids the server-side wallet charges whose void could not reach the broker when their response failed.
   * A charge the broker never made ends the matter too; one it refuses to void is kept as owed.
   */
  async function voidCharges() {
    let voided = 0;
    let refused = 0;
    for (const chargeId of await o.store.voidsPending()) {
      try {
        await o.broker.walletVoid(chargeId);
      } catch (e) {
        if (!refusedByBroker(e)) continue; // still unreachable: next round
        if (e.code !== 'not_found') {
          // The broker will not (the money was paid out meanwhile): kept on record as owed.
          await o.store.markVoided(chargeId, 'void_refused');
          refused++;
          continue;
        }
        // not_found: the charge was never made; nothing to void.
      }
      await o.store.markVoided(chargeId);
      voided++;
    }
    return { voided, refused };
  }

  /**
   * Runs redemption and pending voids every `everyMs`, and backups (which renew the leases of the chains
   * in use) every `backupEveryMs` (default 3 s) or a third of the broker's lease if that is shorter, until
   * stopped.
   */
  function start(everyMs: number, backupEveryMs = 3_000) {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const backups = () => {
      timer = setTimeout(
        async () => {
          await backup().catch(() => {}); // next round
          if (!stopped) backups();
        },
        Math.min(backupEveryMs, leaseMs / 3),
      );
      timer.unref();
    };
    backups();
    // Each on its own: one that keeps failing does not hold the others back.
    const stopRedeeming = every(everyMs, [redeem, voidCharges]);
    return () => {
      stopped = true;
      clearTimeout(timer);
      stopRedeeming();
    };
  }

  function every(ms: number, steps: readonly (() => Promise<unknown>)[]) {
    let running = false;
    const timer = setInterval(async () => {
      if (running) return;
      running = true;
      try {
        for (const step of steps) await step().catch(() => {}); // next round
      } finally {
        running = false;
      }
    }, ms);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * The vendor's statement: what it accepted and what the broker credited (from its own records), and its
   * account at the broker — the balance waiting for payout and what was paid out. The broker part is null
   * when the broker cannot be reached.
   */
  async function statement() {
    const local = await o.store.statement();
    let broker: {
      balance: string;
      paidOut: string;
      payoutsPending: string;
      credited: string;
      /** Whether the broker's record of what it credited this vendor matches the vendor's own. */
      matches: boolean;
    } | null = null;
    try {
      const s = await o.broker.statement();
      const sum = (status: string) =>
        s.payouts
          .filter((p) => p.status === status)
          .reduce((a, p) => a + BigInt(p.amount), 0n)
          .toString();
      broker = {
        balance: s.balance.toString(),
        paidOut: sum('sent'),
        payoutsPending: sum('pending'),
        credited: s.redeemed.amount,
        matches: s.redeemed.amount === local.redeemed,
      };
    } catch {
      // unreachable: the local part stands on its own
    }
    return { vendorId: o.vendorId, ...local, broker };
  }

  return { redeem, backup, voidCharges, start, statement };
}

export type Redeemer = ReturnType<typeof createRedeemer>;
