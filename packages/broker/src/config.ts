import { CURRENCY_CODE_RE, MINOR_WIRE_RE } from '@netpay/protocol';
import { z } from 'zod';

const Minor = z
  .union([z.string().regex(MINOR_WIRE_RE), z.bigint().nonnegative()])
  .transform((v) => BigInt(v));

/**
 * The broker's configuration, parsed once at start-up into a frozen object; a bad value stops the process
 * with a message naming it. Amounts are minor units of `currency`.
 */
export const BrokerConfigSchema = z.strictObject({
  brokerId: z
    .string()
    .regex(/^[\x21-\x7e]{1,128}$/)
    .default('broker.local'),
  currency: z
    .strictObject({ code: z.string().regex(CURRENCY_CODE_RE), exponent: z.number().int().min(0).max(18) })
    .prefault({ code: 'USD', exponent: 4 }),
  /** Coin values a customer may buy chains in. */
  denominations: z.array(Minor).min(1).max(16).prefault(['1', '5', '10', '50']),
  /** Longest chain sold. */
  maxChainLength: z
    .number()
    .int()
    .min(1)
    .max(2 ** 24)
    .default(100_000),
  /** How long a touchstone is valid. */
  chainLifetimeSeconds: z
    .number()
    .int()
    .min(60)
    .default(90 * 86_400),
  /** After expiry, vendors may still redeem for this long; then the unspent rest goes back to the customer. */
  redemptionGraceSeconds: z
    .number()
    .int()
    .min(0)
    .default(14 * 86_400),
  /**
   * A holding is a lease (docs/protocol.md §8.4): how long a vendor may accept a chain's coins after the
   * broker last granted or renewed its holding. The broker moves a chain away from a holder that does not
   * answer only after this; it is also the longest a refund waits for a holder that does not answer.
   */
  leaseSeconds: z.number().int().min(2).max(300).default(10),
  /** How long the broker waits for a holder's answer to its hand-over request (refunds). */
  handoverTimeoutMs: z.number().int().min(100).max(30_000).default(3_000),
  /** Broker fee on redeemed value, basis points. */
  feeBasisPoints: z.number().int().min(0).max(10_000).default(200),
  limits: z
    .strictObject({
      /** Smallest and largest single load from the bank. */
      minLoad: Minor.prefault('1000'),
      maxLoad: Minor.prefault('10000000'),
      /** Balance a customer must keep after buying or sending. */
      minBalance: Minor.prefault('0'),
      /** Most value a customer may hold in unspent chains at once. */
      maxOutstanding: Minor.prefault('5000000'),
      /** Smallest and largest single purchase or send. */
      minTransaction: Minor.prefault('1'),
      maxTransaction: Minor.prefault('5000000'),
    })
    .prefault({}),
  /** Server-side wallets: the cap a vendor grant gets unless the customer picks one, and the largest. */
  wallet: z
    .strictObject({
      defaultCap: Minor.prefault('50000'),
      maxCap: Minor.prefault('5000000'),
      /** How long the code in the sign-in redirect may wait to be exchanged. */
      codeTtlSeconds: z.number().int().min(10).max(3_600).default(300),
    })
    .prefault({}),
  /** Device codes: digits, lifetime and attempts. */
  deviceCodeTtlSeconds: z.number().int().min(30).default(600),
  deviceCodeMaxAttempts: z.number().int().min(1).max(20).default(5),
  /**
   * Code resends: at most `deviceCodeMaxSends` codes per device, the n-th resend only
   * `deviceCodeResendSeconds` × 2^(n−1) after the previous code; at most `deviceCodesPerLoginPerDay` codes
   * to one login's devices in 24 hours; a device whose wrong codes over all its codes reach
   * `deviceCodeMaxFailures` can no longer be verified (register or sign in again).
   */
  deviceCodeMaxSends: z.number().int().min(1).max(20).default(5),
  deviceCodeResendSeconds: z.number().int().min(1).max(3_600).default(30),
  deviceCodesPerLoginPerDay: z.number().int().min(1).max(1_000).default(20),
  deviceCodeMaxFailures: z.number().int().min(1).max(100).default(10),
  /**
   * Password guessing: after this many wrong passwords for one login within `passwordLockSeconds`, the
   * login is refused (429 too_many_attempts) until that long has passed — at the API and the sign-in page.
   */
  passwordMaxFailures: z.number().int().min(3).max(100).default(10),
  passwordLockSeconds: z.number().int().min(60).max(86_400).default(900),
  /**
   * Token guessing: after this many wrong bearer tokens (sessions, the admin token) from one client address
   * (an IPv6 /64) within `tokenLockSeconds`, every request with a bearer token from there is refused (429
   * too_many_attempts) until that window is over. 0 turns the count off (tests that send junk on purpose).
   */
  tokenMaxFailures: z.number().int().min(0).max(10_000).default(20),
  tokenLockSeconds: z.number().int().min(60).max(86_400).default(900),
  /**
   * Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client: the address wrong
   * tokens are counted against. None by default: the TCP peer is the client.
   */
  trustedProxies: z
    .array(z.string().regex(/^[0-9A-Fa-f:.]{2,45}(\/\d{1,3})?$/))
    .max(32)
    .default([]),
  sessionTtlSeconds: z
    .number()
    .int()
    .min(60)
    .default(30 * 86_400),
  /** argon2id cost (OWASP minimum by default; tests lower it). */
  argon2: z
    .strictObject({ t: z.number().int().min(1), m: z.number().int().min(8), p: z.number().int().min(1) })
    .prefault({ t: 2, m: 19_456, p: 1 }),
  /**
   * P2P (docs/p2p.md §4): the CIS's fairness rule — a peer may buy coins while demand + purchase ≤
   * freeAllowance + supply × supplyFactor — and what a peer's coins are: money (its balance grows from its
   * earnings only) or tokens (each new peer is granted `grant` from the broker).
   */
  p2p: z
    .strictObject({
      currency: z.enum(['money', 'tokens']).default('money'),
      /** Tokens mode: what a new peer's coin account is granted at registration. */
      grant: Minor.prefault('100000'),
      /** What a peer may buy before it has supplied anything. */
      freeAllowance: Minor.prefault('100000'),
      /** How many times what it supplied a peer may buy on top of the free allowance. */
      supplyFactor: z.number().int().min(1).max(100).default(2),
    })
    .prefault({}),
  /** Dev mode: device codes go to an outbox readable at GET /dev/outbox. Never in production. */
  dev: z.boolean().default(false),
  /**
   * Who may register a new vendor or peer at POST /parties: anyone ("open", the default only in dev mode)
   * or holders of an operator's invitation ("invitation", the default otherwise).
   */
  registration: z.enum(['open', 'invitation']).optional(),
  /** The broker's own account at the bank, and its token, for loads, unloads and payouts. */
  bank: z.strictObject({ account: z.string().min(1), token: z.string().min(1) }).optional(),
  /** Payouts: most attempts before a payout is left for an operator, and the back-off base. */
  payoutMaxAttempts: z.number().int().min(1).default(8),
  payoutBackoffSeconds: z.number().int().min(1).default(30),
  /** Background jobs, in seconds between runs (0: off; run them from the CLI or /admin instead). */
  schedule: z
    .strictObject({
      settlementSeconds: z.number().int().min(0).default(86_400),
      expirySeconds: z.number().int().min(0).default(3_600),
      reconcileSeconds: z.number().int().min(0).default(300),
    })
    .prefault({}),
  /** Bearer token for /admin endpoints; without it they answer 403. */
  adminToken: z.string().min(16).optional(),
  /** Most coins one redemption claim may cover. */
  maxCoinsPerClaim: z
    .number()
    .int()
    .min(1)
    .max(2 ** 24)
    .default(1_000_000),
});

export type BrokerConfigInput = z.input<typeof BrokerConfigSchema>;
export type BrokerConfig = Readonly<z.output<typeof BrokerConfigSchema>>;

export function parseBrokerConfig(input: unknown): BrokerConfig {
  const parsed = BrokerConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`broker config: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return Object.freeze(parsed.data);
}
