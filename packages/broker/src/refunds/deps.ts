/** What refunds run on. */
import type { Db } from '@netpay/db';
import type { BrokerConfig } from '../config.ts';
import type { BrokerContext } from '../context.ts';
import type { KeyService } from '../keys/service.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { PartyService } from '../parties/service.ts';

export interface RefundDeps {
  readonly db: Db;
  /** Unix milliseconds. */
  readonly clock: () => number;
  readonly random: BrokerContext['random'];
  readonly config: Pick<BrokerConfig, 'brokerId' | 'handoverTimeoutMs' | 'redemptionGraceSeconds'>;
  readonly ledger: Pick<Ledger, 'post' | 'balance'>;
  readonly keys: Pick<KeyService, 'currentKey'>;
  readonly parties: Pick<PartyService, 'get' | 'publicKey'>;
}
