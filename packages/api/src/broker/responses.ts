import { IndexSchema, MinorWireSchema, TouchstoneSchema } from '@netpay/protocol';
import { z } from 'zod';

/**
 * The broker API's answers (docs/broker.md §6), as they travel: amounts are decimal strings of minor
 * units, times ISO 8601 or Unix ms as the docs say. Objects are loose (z.looseObject): a field added to an
 * answer later does not break an older client, and the field stays readable to callers that know it.
 */
const Amount = MinorWireSchema;
/** A signed amount of minor units ("-250"). */
const SignedAmount = z.string().regex(/^-?\d+$/);
const Lease = {
  leaseMs: z.number().int().min(0).describe('how long the lease runs from now (ms)'),
  leaseUntil: z.number().int().describe('when the lease ends, Unix ms by the broker clock'),
};

export const ConfigAnswer = z.looseObject({
  brokerId: z.string(),
  currency: z.string(),
  exponent: z.number().int(),
  denominations: z.array(Amount),
  maxChainLength: z.number().int(),
  chainLifetimeSeconds: z.number().int(),
  feeBasisPoints: z.number().int(),
  limits: z.record(z.string(), Amount),
});
export const KeysAnswer = z.looseObject({
  keys: z.array(
    z.looseObject({
      brokerId: z.string(),
      keyId: z.string(),
      publicKey: z.string(),
      createdAt: z.unknown().optional(),
      retiredAt: z.unknown().optional(),
    }),
  ),
});
export const PartyAnswer = z.looseObject({
  id: z.string(),
  kind: z.string(),
  name: z.string(),
  publicKey: z.string(),
  url: z.string().nullable(),
  /** A peer frozen for a double spend (docs/p2p.md §5): other peers refuse it. */
  frozen: z.boolean(),
});

export const Session = z.looseObject({
  token: z.string(),
  customerId: z.string(),
  deviceId: z.string(),
  expiresAt: z.string(),
});
export const RegisterAnswer = z.looseObject({ customerId: z.string(), deviceId: z.string() });
export const VerifyAnswer = z.looseObject({ session: Session });
export const LoginAnswer = z.union([
  z.looseObject({ verificationRequired: z.literal(false), session: Session }),
  z.looseObject({ verificationRequired: z.literal(true), deviceId: z.string() }),
]);
export const ProfileAnswer = z.looseObject({
  customerId: z.string(),
  login: z.string(),
  totp: z.boolean(),
  balance: Amount,
  currency: z.string(),
  exponent: z.number().int(),
});
export const TotpAnswer = z.looseObject({ secret: z.string(), uri: z.string() });
export const MovementAnswer = z.looseObject({ movementId: z.string(), amount: Amount, balance: Amount });
export const BuyAnswer = z.looseObject({
  chains: z.array(
    z.looseObject({ chainId: z.string(), serverSide: z.boolean(), touchstone: TouchstoneSchema }),
  ),
  total: Amount,
  balance: Amount,
});
export const ChainAnswer = z.looseObject({
  chainId: z.string(),
  n: z.number().int(),
  coinValue: Amount,
  status: z.enum(['active', 'refunded', 'closed']),
  serverSide: z.boolean(),
  redeemedCoins: z.number().int(),
  knownSpentIndex: z.number().int(),
  holder: z.looseObject({ id: z.string(), leaseMs: z.number().int() }).nullable(),
  refundPending: z.boolean(),
  touchstone: TouchstoneSchema,
});
export const ChainsAnswer = z.looseObject({
  chains: z.array(ChainAnswer),
  /** Pass as `after` for the next page; null on the last. */
  next: z.string().nullable(),
});
export const RefundDone = z.looseObject({
  status: z.literal('refunded'),
  chainId: z.string(),
  refundedFrom: z.number().int(),
  coins: z.number().int(),
  amount: Amount,
  balance: Amount,
});
export const RefundPending = z.looseObject({
  status: z.literal('pending'),
  chainId: z.string(),
  retryAfter: z.number().int().min(0),
});
export const SendAnswer = z.looseObject({ to: z.string(), amount: Amount, balance: Amount });
export const StatementAnswer = z.looseObject({
  entries: z.array(
    z.looseObject({
      id: z.string(),
      kind: z.string(),
      amount: SignedAmount,
      ref: z.string().nullable(),
      createdAt: z.string(),
    }),
  ),
});
export const OutboxAnswer = z.looseObject({
  messages: z.array(
    z.looseObject({
      id: z.unknown(),
      recipient: z.string(),
      kind: z.string(),
      body: z.string(),
      createdAt: z.unknown(),
    }),
  ),
});

/** A vendor's grant on a customer's server-side wallet (§16a), as the vendor and the customer see it. */
const Usage = {
  grantId: z.string(),
  cap: Amount,
  period: z.enum(['day', 'total']),
  spent: Amount,
  remaining: Amount,
};
export const GrantAnswer = z.looseObject({
  ...Usage,
  vendorId: z.string(),
  vendorName: z.string(),
  active: z.boolean(),
});
export const GrantsAnswer = z.looseObject({ grants: z.array(GrantAnswer) });
export const AuthorizeAnswer = z.looseObject({
  redirect: z.string(),
  grantId: z.string(),
  cap: Amount,
  period: z.enum(['day', 'total']),
});
export const WalletTokenAnswer = z.looseObject({ ...Usage, token: z.string() });
export const WalletChargeAnswer = z.looseObject({
  ...Usage,
  chargeId: z.string(),
  amount: Amount,
  fee: Amount,
});
export const WalletVoidAnswer = z.looseObject({ status: z.literal('voided'), amount: Amount });

export const RegisteredPartyAnswer = z.looseObject({
  id: z.string(),
  kind: z.string(),
  name: z.string(),
  publicKey: z.string(),
  url: z.string().nullable(),
  bankAccount: z.string().nullable(),
  balance: Amount,
});
export const PartyStatementAnswer = z.looseObject({
  partyId: z.string(),
  balance: Amount,
  redeemed: z.looseObject({
    claims: z.number().int(),
    coins: z.number().int(),
    amount: Amount,
    fees: Amount,
  }),
  /** Every payout sent, and every one pending, in all. */
  paidOut: Amount,
  payoutsPending: Amount,
  /** The newest 100 payouts, newest first. */
  payouts: z.array(z.looseObject({ id: z.string(), amount: Amount, status: z.string() })).max(100),
});
export const ClaimAnswer = z.looseObject({
  granted: z.boolean(),
  touchstone: TouchstoneSchema,
  backup: IndexSchema.nullable(),
  holder: z.looseObject({ id: z.string(), url: z.string().nullable() }),
  ...Lease,
});
export const HandoverAnswer = z.looseObject({
  granted: z.literal(true),
  chainId: z.string(),
  index: z.number().int(),
  ...Lease,
});
export const BackupAnswer = z.looseObject({
  chainId: z.string(),
  backupIndex: z.number().int(),
  refunding: z.boolean(),
  ...Lease,
});
export const TakeoverAnswer = z.looseObject({
  granted: z.literal(true),
  touchstone: TouchstoneSchema,
  backup: IndexSchema.nullable(),
  start: z.looseObject({ index: z.number().int(), payword: z.string() }),
  previousHolder: z.string().nullable(),
  ...Lease,
});
export const RedeemAnswer = z.looseObject({
  results: z.array(
    z.union([
      z.looseObject({
        claimId: z.string(),
        status: z.literal('credited'),
        coins: z.number().int(),
        amount: Amount,
        fee: Amount,
        replayed: z.boolean().optional(),
      }),
      z.looseObject({
        claimId: z.string(),
        status: z.literal('rejected'),
        code: z.string(),
        message: z.string(),
      }),
    ]),
  ),
});

/** The ledger audit (§8.4): every balance equals its entries, all balances sum to zero, none negative. */
export const AuditAnswer = z.looseObject({
  ok: z.boolean(),
  accounts: z.number().int(),
  transfers: z.number().int(),
  sumOfBalances: SignedAmount,
  mismatched: z.array(z.looseObject({ id: z.string(), balance: SignedAmount, entries: SignedAmount })),
  negative: z.array(z.string()),
  totals: z.record(z.string(), SignedAmount),
  /** Tokens granted to new peers (P2P tokens mode): part of −bank with no money at the bank behind it. */
  grants: Amount,
});
export const EvidenceAnswer = z.looseObject({
  evidence: z.array(
    z.looseObject({
      id: z.string(),
      chainId: z.string(),
      partyId: z.string(),
      reason: z.string(),
      conflictsWith: z.string().nullable(),
      claim: z.unknown(),
      createdAt: z.string(),
    }),
  ),
});
export const ChainAccountAnswer = z.looseObject({
  chainId: z.string(),
  status: z.string(),
  bought: Amount,
  credited: Amount,
  refunded: Amount,
  chargedBack: Amount,
  unspent: Amount,
  balanced: z.boolean(),
});
export const SettlementRunAnswer = z.looseObject({
  runId: z.string(),
  created: z.number().int(),
  total: Amount,
  sent: z.number().int(),
  failed: z.number().int(),
  retrying: z.number().int(),
});
export const SettlementRunsAnswer = z.looseObject({
  runs: z.array(
    z.looseObject({
      runId: z.string(),
      startedAt: z.string(),
      finishedAt: z.string().nullable(),
      payouts: z.number().int(),
      total: Amount,
    }),
  ),
});
export const RotateAnswer = z.looseObject({ keyId: z.string() });
export const ExpiryAnswer = z.looseObject({ closed: z.number().int(), refunded: Amount });
export const RefundsRunAnswer = z.looseObject({ pending: z.number().int(), completed: z.number().int() });
export const ReconcileAnswer = z.looseObject({ retried: z.number().int() });
export const InvitationAnswer = z.looseObject({
  token: z.string(),
  kind: z.enum(['vendor', 'peer']),
  partyId: z.string().nullable(),
  expiresAt: z.string(),
});
