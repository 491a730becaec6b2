/**
 * The codes a claim is refused with (docs/broker.md §15.3), besides the protocol's own checks of the claim
 * (malformed, bad_signature, payword_invalid …). A redemption request answers 200 with one result per
 * claim, so these appear in `results[i].code`, never as HTTP errors: they are not in the broker's error
 * table (errors.ts). `chain_not_found` is the directory's code, answered per claim here.
 */
import type { ProtocolErrorCode } from '@netpay/protocol';

/** Why a claim was refused: one of redemption's own codes, or the protocol check that failed. */
export type ClaimRejection =
  | 'wrong_vendor'
  | 'duplicate_claim_id'
  | 'chain_not_found'
  | 'claim_too_late'
  | 'unknown_payee'
  | 'not_holder'
  | 'overlapping_claim'
  | ProtocolErrorCode;
