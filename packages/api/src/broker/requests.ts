/** The broker API's request bodies, params and queries (docs/broker.md §6): one schema each. */
import {
  ChainIdSchema,
  ChainLengthSchema,
  MinorWireSchema,
  PartyIdSchema,
  PayeeShareSchema,
  PaywordSchema,
  PublicKeySchema,
} from '@netpay/protocol';
import { z } from 'zod';

export const Amount = MinorWireSchema.describe('amount in minor units, as a decimal string');

export const RegisterBody = z.strictObject({
  login: z.string().min(3).max(254).describe('email address or E.164 phone number'),
  password: z.string().min(10, 'use at least 10 characters').max(256),
  deviceName: z.string().min(1).max(64).default('device'),
});

export const VerifyBody = z.strictObject({ code: z.string().regex(/^\d{6}$/, 'the code is 6 digits') });

export const LoginBody = z.strictObject({
  login: z.string().min(3).max(254),
  password: z.string().min(1).max(256),
  deviceId: z.string().max(64).optional(),
  deviceName: z.string().min(1).max(64).optional(),
  totp: z
    .string()
    .regex(/^\d{6}$/)
    .optional(),
});

export const Session = z.object({
  token: z.string(),
  customerId: z.string(),
  deviceId: z.string(),
  expiresAt: z.string(),
});

export const LoadBody = z.strictObject({
  amount: Amount,
  bankAccount: z.string().min(1).max(128),
  bankToken: z.string().min(1).max(256).describe('authorizes the debit at the bank; not stored'),
});

export const UnloadBody = z.strictObject({ amount: Amount, bankAccount: z.string().min(1).max(128) });

export const BuyBody = z.strictObject({
  chains: z
    .array(
      z.strictObject({
        coinValue: Amount,
        n: ChainLengthSchema,
        chainId: ChainIdSchema.optional().describe('client-side wallet: the chain id it generated'),
        root: PaywordSchema.optional().describe(
          'client-side wallet: W(0) of its chain; the seed never leaves it',
        ),
      }),
    )
    .min(1)
    .max(20),
});

export const SendBody = z.strictObject({
  to: z.string().min(3).max(254).describe('login of the recipient'),
  amount: Amount,
});

export const PartyBody = z.strictObject({
  id: PartyIdSchema,
  kind: z.enum(['vendor', 'peer']).default('vendor'),
  name: z.string().min(1).max(128),
  publicKey: PublicKeySchema,
  url: z.url().max(512).optional(),
  bankAccount: z.string().min(1).max(128).optional(),
  /** An operator's invitation (POST /admin/invitations): needed for a new party unless registration is open. */
  invitation: z.string().min(1).max(128).optional(),
});

/** POST /admin/invitations: an invitation to register one vendor or peer. */
export const InvitationBody = z.strictObject({
  kind: z.enum(['vendor', 'peer']).default('vendor'),
  /** Only this party id may use it (default: any id). */
  partyId: PartyIdSchema.optional(),
  /** Default 7 days; 60 s to 90 days. */
  expiresInSeconds: z
    .number()
    .int()
    .min(60)
    .max(90 * 86_400)
    .default(7 * 86_400),
});

export const ChainRef = z.strictObject({ chainId: ChainIdSchema });
/** A refund: the customer's statement of the highest index its wallet spent (0: none). */
export const RefundBody = z.strictObject({
  spentIndex: z
    .number()
    .int()
    .min(0)
    .max(2 ** 24)
    .describe('the highest index of the chain this wallet spent (0 if none)'),
});
export const IndexBody = z.strictObject({ index: z.unknown() });
export const RedeemBody = z.strictObject({ claims: z.array(z.unknown()).min(1).max(200) });
export const TotpConfirmBody = z.strictObject({ code: z.string().regex(/^\d{6}$/) });
/** Most chains one page of `GET /me/chains` lists. */
export const MAX_CHAINS_PAGE = 500;
/** GET /me/chains: a page of the customer's chains, oldest first, after the chain `after`. */
export const ChainsQuery = z.strictObject({
  after: ChainIdSchema.optional().describe('the `next` of the previous page'),
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,2}$/, 'must be a whole number from 1')
    .transform(Number)
    .pipe(z.number().max(MAX_CHAINS_PAGE))
    .optional()
    .describe(`chains per page, 1–${MAX_CHAINS_PAGE}, default ${MAX_CHAINS_PAGE}`),
});
export const ChainIdParams = z.strictObject({ chainId: ChainIdSchema });
export const DeviceParams = z.strictObject({ deviceId: z.string().min(1).max(64) });
export const PartyParams = z.strictObject({ id: PartyIdSchema });

/** Server-side wallet sign-in: the query a vendor redirects the browser with. */
export const AuthorizeQuery = z.strictObject({
  vendor: PartyIdSchema,
  redirect_uri: z.string().min(1).max(2048),
  state: z.string().max(512).optional(),
  cap: z.string().max(40).optional(),
  period: z.enum(['day', 'total']).optional(),
});
/**
 * The sign-in page's form (cap typed in major units as `capAmount`) or a JSON call from a signed-in app
 * (Authorization: Bearer, cap in minor units as `cap`).
 */
export const AuthorizeBody = z.strictObject({
  vendor: PartyIdSchema,
  redirect_uri: z.string().min(1).max(2048),
  state: z.string().max(512).optional(),
  login: z.string().max(254).optional(),
  password: z.string().max(256).optional(),
  totp: z.union([z.literal(''), z.string().regex(/^\d{6}$/)]).optional(),
  /** Second step of the sign-in page: the device the code was sent for, and the code. */
  deviceId: z.string().min(1).max(64).optional(),
  code: z.string().max(16).optional(),
  cap: Amount.optional(),
  capAmount: z.string().max(40).optional(),
  period: z.enum(['day', 'total']).optional(),
});
export const WalletTokenBody = z.strictObject({ code: z.string().min(1).max(128) });
export const WalletChargeBody = z.strictObject({
  token: z.string().min(1).max(128),
  /** The vendor's own id for this charge (16–64 of A–Z a–z 0–9 - _), so it can void it even if the answer was lost. */
  chargeId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,64}$/)
    .optional(),
  amount: Amount,
  resource: z.string().max(512).optional(),
  /** Multi-party price: the charge is split among these shares (basis points adding up to 10000). */
  payees: z
    .array(PayeeShareSchema)
    .min(1)
    .max(8)
    .refine(
      (p) =>
        p.reduce((a, x) => a + x.share, 0) === 10_000 && new Set(p.map((x) => x.payeeId)).size === p.length,
      'shares must be distinct payees adding up to 10000 basis points',
    )
    .optional(),
});
export const ChargeParams = z.strictObject({ chargeId: z.string().min(1).max(67) });
export const VendorParams = z.strictObject({ vendorId: PartyIdSchema });
export const CapBody = z.strictObject({ cap: Amount, period: z.enum(['day', 'total']).optional() });
/** GET /dev/outbox: one login's messages, or the first 200. */
export const OutboxQuery = z.looseObject({ recipient: z.string().max(254).optional() });
