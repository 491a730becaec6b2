/**
 * What the wallet frame and the embedding page say to each other: the page's pay request (checked by a
 * schema: what the wallet keeps bounds what the frame takes), and what the page is told when nothing was
 * paid, a code and a fixed message, whatever the wallet knows.
 */
import { NetPayError } from '@netpay/protocol';
import { KeptRequestSchema } from '@netpay/wallet';
import { z } from 'zod';

export const PayRequestSchema = z.strictObject({
  type: z.literal('pay'),
  id: z.number().int().nonnegative(),
  url: z.url({ protocol: /^https?$/ }),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
  // A paid request is kept in the wallet until settled (to send it again after a lost answer): what the
  // wallet keeps bounds what the frame takes.
  headers: KeptRequestSchema.shape.headers,
  body: KeptRequestSchema.shape.body.unwrap().nullable(),
  /** The page's own time limit (its clock, this browser's): nothing is asked or paid after it. */
  deadline: z.number().int().positive(),
});
export type PayRequest = z.infer<typeof PayRequestSchema>;

/** What the embedding page is told, whatever the wallet knows: a code and a fixed message. */
export const FOR_THE_PAGE: Record<string, string> = {
  no_coins: 'Your NetPay wallet cannot pay this: buy coins in it, or pay from your NetPay account.',
  spending_limit: 'Spending limit reached for this shop today: you can change it in your NetPay wallet.',
  declined: 'You did not pay.',
  vendor_unreachable: 'The shop could not be reached; a payment already sent is settled with it later.',
  vendor_mismatch: 'This page is not where the shop it names is registered: the wallet did not pay.',
  wrong_origin: 'A page can only pay for its own site.',
  bad_request: 'The wallet frame got a malformed request.',
  busy: 'The wallet has too many payments waiting: try again in a moment.',
  expired: 'The page stopped waiting for the wallet: nothing was paid.',
  wallet_elsewhere: 'Your NetPay wallet cannot be opened inside this page: pay in a wallet window.',
  request_not_kept: 'This request cannot be paid from the wallet (its body is too big to keep).',
  wrong_currency: 'This shop asks for a currency your wallet does not hold.',
  broker_not_accepted: "This shop does not take your broker's coins.",
};
/** Wallet codes the page sees as one of the above. */
const AS = { insufficient_coins: 'no_coins', over_vendor_daily_limit: 'spending_limit' } as const;

/**
 * The page's answer for a payment that failed: its code (as the page knows it) and fixed message.
 * `walletEmpty`: a wallet with no chains at all here, for no_coins.
 */
export function refusal(e: unknown, walletEmpty: () => boolean) {
  const raw = e instanceof NetPayError ? e.code : 'wallet_failed';
  const code: string = AS[raw as keyof typeof AS] ?? raw;
  return {
    ok: false,
    code,
    message: FOR_THE_PAGE[code] ?? `Your NetPay wallet could not pay this (${code}).`,
    // A wallet with no chains at all here: the browser may keep this frame's storage apart from the
    // wallet page's (another site); window mode reaches the wallet's own.
    ...(code === 'no_coins' ? { walletEmpty: walletEmpty() } : {}),
  };
}
