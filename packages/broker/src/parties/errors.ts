/** The error codes only parties' registration raises (keys and invitations), with their HTTP statuses. */
export const PARTY_ERROR_STATUS = {
  party_exists: 409,
  invitation_required: 403,
  invitation_invalid: 403,
} as const;
