/** What redemption runs on, and what it answers per claim. */
import type { Db } from '@netpay/db';
import type { BrokerConfig } from '../config.ts';
import type { FraudService } from '../fraud/service.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { PartyService } from '../parties/service.ts';
import type { ClaimRejection } from './errors.ts';

export type ClaimResult =
  | { claimId: string; status: 'credited'; coins: number; amount: string; fee: string; replayed?: boolean }
  | { claimId: string; status: 'rejected'; code: ClaimRejection; message: string };

/** What redemption runs on. */
export interface RedemptionDeps {
  readonly db: Db;
  /** Unix milliseconds. */
  readonly clock: () => number;
  readonly config: Pick<
    BrokerConfig,
    'currency' | 'feeBasisPoints' | 'maxCoinsPerClaim' | 'redemptionGraceSeconds' | 'p2p'
  >;
  readonly ledger: Pick<Ledger, 'post'>;
  readonly parties: Pick<PartyService, 'publicKey' | 'get' | 'kinds' | 'kindOf' | 'freeze'>;
  readonly fraud: Pick<FraudService, 'chargeBack' | 'recordEvidence' | 'chargedBack'>;
}
