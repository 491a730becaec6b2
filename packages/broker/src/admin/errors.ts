/** The error codes only the operator's endpoints raise, with their HTTP statuses. */
export const ADMIN_ERROR_STATUS = {
  admin_disabled: 403,
} as const;
