/**
 * The customer's spending limits per shop, kept in this browser (the wallet's origin) and applied by the
 * wallet frame that shops embed: pay without asking up to `askAbove` a payment, never more than `perDay`
 * a day at one shop. Amounts are minor units as decimal strings.
 */
import { z } from 'zod';

const MINOR = z.string().regex(/^(0|[1-9][0-9]{0,30})$/);
export const ShopLimitSchema = z.strictObject({ askAbove: MINOR, perDay: MINOR });
export type ShopLimit = z.infer<typeof ShopLimitSchema>;
const LimitsSchema = z.record(z.string().max(64), ShopLimitSchema);

/** Until the customer says otherwise: up to 0.0100 a payment without asking, 1.0000 a day per shop. */
export const DEFAULT_LIMIT: ShopLimit = { askAbove: '100', perDay: '10000' };
const KEY = 'netpay-limits';

/** Every shop's limits; a damaged record is ignored (the defaults apply), never trusted. */
export function readLimits(): Record<string, ShopLimit> {
  try {
    const parsed = LimitsSchema.safeParse(JSON.parse(localStorage.getItem(KEY) ?? '{}'));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

export const limitFor = (vendorId: string): ShopLimit => readLimits()[vendorId] ?? DEFAULT_LIMIT;

export function writeLimit(vendorId: string, limit: ShopLimit): void {
  localStorage.setItem(KEY, JSON.stringify({ ...readLimits(), [vendorId]: ShopLimitSchema.parse(limit) }));
}

/** Tells the wallet's other pages (tabs, frames) that the wallet changed, so they reload it. */
export const CHANGES = 'netpay-wallet-changes';
