/**
 * The price list of `netpay vendor start`: which files of the folder cost what, and the one normalised
 * path that is both priced and served.
 */
import { posix } from 'node:path';
import { MINOR_WIRE_RE, PartyIdSchema, PayeeShareSchema } from '@netpay/protocol';
import { z } from 'zod';

/**
 * The price list of a standalone vendor (`netpay vendor start`): glob patterns of file paths (relative to
 * the folder, `*` within a path segment, `**` across segments) with prices in minor units; the first match
 * wins, else `default`. A file that matches nothing and has no default is free.
 */
export const PriceListSchema = z.strictObject({
  vendorId: PartyIdSchema,
  name: z.string().min(1).max(128).optional(),
  currency: z
    .strictObject({ code: z.string(), exponent: z.number().int().min(0).max(18) })
    .prefault({ code: 'USD', exponent: 4 }),
  default: z.string().regex(MINOR_WIRE_RE).optional(),
  prices: z.record(z.string().min(1).max(256), z.string().regex(MINOR_WIRE_RE)).prefault({}),
  payees: z.array(PayeeShareSchema).max(8).optional(),
});
export type PriceList = z.infer<typeof PriceListSchema>;

function globToRegExp(glob: string): RegExp {
  const segment = (part: string) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*');
  return new RegExp(`^${glob.split('**').map(segment).join('.*')}$`);
}

/**
 * The requested file as a normalised relative path (Fastify has already percent-decoded it). A path that
 * climbs out of the folder is a 400, before anything is priced or read.
 */
export function filePath(params: unknown): string {
  const raw = (params as { '*'?: string })['*'] ?? '';
  const normalised = posix.normalize(`/${raw}`).replace(/^\/+/, '');
  if (normalised.split('/').includes('..') || raw.includes('\0')) {
    throw Object.assign(new Error('the path leaves the folder'), { statusCode: 400 });
  }
  return normalised;
}

export function priceOf(list: PriceList, path: string): bigint | undefined {
  for (const [glob, price] of Object.entries(list.prices))
    if (globToRegExp(glob).test(path)) return BigInt(price);
  return list.default === undefined ? undefined : BigInt(list.default);
}
