/**
 * The redeemer: binds its rounds to one vendor, broker and store.
 *   claims.ts     the ranges to claim, cut where the payees change, signed
 *   redeem.ts     a redemption round: claims written down, sent, their answers settled
 *   backup.ts     backups of the chains in use, which renew their leases
 *   voids.ts      server-side wallet voids that could not reach the broker at the time
 *   statement.ts  the vendor's statement beside its account at the broker
 *   schedule.ts   the timers that run the rounds
 */
import type { Ed25519Signer } from '@netpay/protocol';
import type { BrokerClient } from '../broker-client.ts';
import type { ChainStore } from '../store/store.ts';
import { backup, backupState } from './backup.ts';
import type { RedeemerDeps } from './deps.ts';
import { redeem } from './redeem.ts';
import { afterEach, every } from './schedule.ts';
import { statement } from './statement.ts';
import { voidCharges } from './voids.ts';

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
  const d: RedeemerDeps = { ...o, clock: o.clock ?? Date.now, leaseMarginMs: o.leaseMarginMs ?? 2_000 };
  const backups = backupState();
  const rounds = {
    redeem: () => redeem(d),
    backup: () => backup(d, backups),
    voidCharges: () => voidCharges(d),
  };

  /**
   * Runs redemption and pending voids every `everyMs`, and backups (which renew the leases of the chains
   * in use) every `backupEveryMs` (default 3 s) or a third of the broker's lease if that is shorter, until
   * stopped.
   */
  function start(everyMs: number, backupEveryMs = 3_000) {
    const stopBackups = afterEach(() => Math.min(backupEveryMs, backups.leaseMs / 3), rounds.backup);
    // Each on its own: one that keeps failing does not hold the others back.
    const stopRedeeming = every(everyMs, [rounds.redeem, rounds.voidCharges]);
    return () => {
      stopBackups();
      stopRedeeming();
    };
  }

  return { ...rounds, start, statement: () => statement(d) };
}

export type Redeemer = ReturnType<typeof createRedeemer>;
