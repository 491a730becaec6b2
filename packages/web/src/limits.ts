/**
 * The customer's spending limits per shop, kept in this browser (the wallet's origin) and applied by the
 * wallet frame that shops embed: pay without asking up to `askAbove` a payment, never more than `perDay`
 * a day at one shop. Amounts are minor units as decimal strings.
 */
import { MinorWireSchema, PartyIdSchema } from '@netpay/protocol';
import { z } from 'zod';

export const ShopLimitSchema = z.strictObject({ askAbove: MinorWireSchema, perDay: MinorWireSchema });
export type ShopLimit = z.infer<typeof ShopLimitSchema>;

/**
 * The shops the wallet lists (its config) start with: up to 0.0100 a payment without asking, 1.0000 a day.
 * Any other shop asks before every payment until the customer sets its limits.
 */
export const DEFAULT_LIMIT: ShopLimit = { askAbove: '100', perDay: '10000' };
export const UNKNOWN_SHOP_LIMIT: ShopLimit = { askAbove: '0', perDay: '10000' };
const KEY = 'netpay-limits';

/** Every shop's limits. A damaged entry is dropped (its shop gets the defaults), never trusted. */
export function readLimits(): Record<string, ShopLimit> {
  let stored: unknown;
  try {
    stored = JSON.parse(localStorage.getItem(KEY) ?? '{}');
  } catch {
    return {};
  }
  if (typeof stored !== 'object' || stored === null) return {};
  const out: Record<string, ShopLimit> = {};
  for (const [id, value] of Object.entries(stored)) {
    const limit = ShopLimitSchema.safeParse(value);
    if (PartyIdSchema.safeParse(id).success && limit.success) out[id] = limit.data;
  }
  return out;
}

export const limitFor = (vendorId: string, listed: boolean): ShopLimit =>
  readLimits()[vendorId] ?? (listed ? DEFAULT_LIMIT : UNKNOWN_SHOP_LIMIT);

export function writeLimit(vendorId: string, limit: ShopLimit): void {
  const parsed = ShopLimitSchema.safeParse(limit);
  if (!parsed.success) throw new Error('a limit is an amount of 0 or more');
  localStorage.setItem(KEY, JSON.stringify({ ...readLimits(), [vendorId]: parsed.data }));
}

/** Tells the wallet's other pages (tabs, frames) that the wallet changed, so they reload it. */
export const CHANGES = 'netpay-wallet-changes';
