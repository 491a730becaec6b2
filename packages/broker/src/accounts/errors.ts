/** The error codes only customers' accounts raise (registration, device codes, sign-in, TOTP), with their HTTP statuses. */
export const ACCOUNT_ERROR_STATUS = {
  login_taken: 409,
  login_confusable: 400,
  invalid_credentials: 401,
  device_not_verified: 403,
  code_invalid: 401,
  code_expired: 410,
  too_many_attempts: 429,
  totp_required: 401,
  totp_invalid: 401,
} as const;
