import { InvalidArgumentError } from 'commander';
import { z } from 'zod';

/**
 * Flag parsers for commander built from zod schemas, so a flag is checked by the same kind of schema as
 * every other input: `.option('--port <n>', 'port', zodArg(PortSchema), 4100)`. A bad value stops the
 * command with commander's usual "option '--port <n>' argument 'x' is invalid. …".
 */
export function zodArg<T>(schema: z.ZodType<T, string>): (value: string) => T {
  return (value) => {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    throw new InvalidArgumentError(parsed.error.issues.map((i) => i.message).join('; '));
  };
}

export const PortSchema = z
  .string()
  .regex(/^\d{1,5}$/, 'must be a port number, 0–65535 (0: any free port)')
  .transform(Number)
  .pipe(z.number().max(65_535, 'must be a port number, 0–65535 (0: any free port)'));

export const HostSchema = z
  .string()
  .regex(/^[A-Za-z0-9.:-]{1,253}$/, 'must be a host name or IP address, e.g. 127.0.0.1 or 0.0.0.0');

/** An http:// or https:// URL (of a bank, a broker, a shop). */
export const UrlSchema = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

/** An amount in major units as people type it, e.g. 5.00; checked against the currency where it is used. */
export const AmountSchema = z
  .string()
  .regex(/^\d{1,18}(\.\d{1,18})?$/, 'must be an amount like 5.00 (no sign)');

export const DirSchema = z.string().min(1, 'must not be empty').max(4096);

/** DATABASE_URL, when set: a PostgreSQL connection URL. */
export const DatabaseUrlSchema = z
  .string()
  .regex(/^postgres(ql)?:\/\/\S+$/, 'DATABASE_URL must be a postgres://… or postgresql://… URL');

/** A connection URL with its password replaced, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
