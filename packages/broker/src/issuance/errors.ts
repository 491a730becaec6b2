/**
 * The error codes only issuance raises (buying chains, paying another customer, loads and unloads), with
 * their HTTP statuses; the broker's table (errors.ts) spreads them. insufficient_funds and limit_exceeded
 * are raised by the server-side wallet too, and bank_unavailable by settlement, so they stay there.
 */
export const ISSUANCE_ERROR_STATUS = {
  bad_denomination: 422,
  chain_exists: 409,
  recipient_not_found: 404,
  bank_rejected: 422,
} as const satisfies Record<string, number>;

export type IssuanceErrorCode = keyof typeof ISSUANCE_ERROR_STATUS;
