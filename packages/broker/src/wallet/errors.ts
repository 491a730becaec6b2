/** The error codes only server-side wallets raise (grants and their caps), with their HTTP statuses. */
export const WALLET_ERROR_STATUS = {
  grant_invalid: 403,
  grant_revoked: 403,
  spending_limit: 402,
} as const;
