/**
 * Token guessing (docs/broker.md §4): wrong bearer tokens — customers' sessions and the operator's admin
 * token — are counted per client address in `token_failures`. After `tokenMaxFailures` of them within
 * `tokenLockSeconds`, every request with a bearer token from that address is refused with 429
 * `too_many_attempts` (`details.retryAfter` in seconds) until the window is over, a right token too: else
 * a right guess would still show. A right token does not clear the count, or a guesser holding a session
 * of its own could reset it between guesses. Requests without a token are not counted.
 */
import type { Queryable } from '@netpay/db';
import { isNetPayError } from '@netpay/protocol';
import type { BrokerConfig } from '../config.ts';
import { secondsLeft } from '../context.ts';
import { fail } from '../errors.ts';
import { countTokenFailure, tokenFailures } from './store.ts';

interface GuardDeps {
  readonly db: Queryable;
  readonly clock: () => number;
  readonly config: Pick<BrokerConfig, 'tokenMaxFailures' | 'tokenLockSeconds'>;
}

/**
 * The address a guess is counted against: an IPv4 address as it is, an IPv6 address by its /64 (one
 * subscriber's network), so that walking through one's own addresses gains nothing.
 */
export function sourceOf(ip: string): string {
  const bare = ip.split('%')[0]!;
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  if (v4) return v4[1]!;
  if (!bare.includes(':')) return bare;
  const [head = '', tail] = bare.split('::') as [string, string | undefined];
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${all
    .slice(0, 4)
    .map((g) => (Number.parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

/**
 * Runs `check` (which throws `unauthorized` for a wrong token) for a request that carries a bearer
 * token, unless its address is locked; a wrong token is counted.
 */
export function tokenGuard(d: GuardDeps) {
  const windowMs = () => d.config.tokenLockSeconds * 1000;
  return async function guarded<T>(ip: string, check: () => T | Promise<T>): Promise<T> {
    if (d.config.tokenMaxFailures === 0) return check();
    const source = sourceOf(ip);
    await refuseWhileLocked(d, source, windowMs());
    try {
      return await check();
    } catch (e) {
      if (isNetPayError(e, 'unauthorized')) {
        const now = d.clock();
        await countTokenFailure(d.db, source, now, now - windowMs());
      }
      throw e;
    }
  };
}

async function refuseWhileLocked(d: GuardDeps, source: string, windowMs: number) {
  const row = await tokenFailures(d.db, source);
  const now = d.clock();
  if (!row || row.failures < d.config.tokenMaxFailures || Number(row.first_at) + windowMs <= now) return;
  const retryAfter = secondsLeft(row.first_at, windowMs, now);
  throw fail('too_many_attempts', `too many wrong tokens from this address; try again in ${retryAfter} s`, {
    retryAfter,
  });
}
