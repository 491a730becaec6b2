/** The bank's accounts: opening one (with its token, shown once), the token check, and reading one. */
import { ACCOUNT_ID_PREFIX, TOKEN_PREFIX } from '@netpay/api';
import { invariant, MAX_MINOR, sha256, toBase64url, toHex, utf8 } from '@netpay/protocol';
import { type BankContext, newId } from './context.ts';
import { bankError } from './errors.ts';
import type { Account, CreatedAccount } from './wire.ts';

const TOKEN_RE = /^bkt_[A-Za-z0-9_-]{43}$/;

/** Tokens are kept only as their SHA-256. */
export function hashToken(token: string): string {
  return toHex(sha256(utf8(token)));
}

/** The account a bearer token belongs to; 401 `unauthorized` otherwise. */
export async function authenticate(ctx: BankContext, token: string | undefined): Promise<string> {
  if (token === undefined) {
    throw bankError('unauthorized', 'send Authorization: Bearer <account token>');
  }
  if (!TOKEN_RE.test(token)) throw bankError('unauthorized', 'that is not an account token');
  const [row] = await ctx.db.query<{ id: string }>('SELECT id FROM bank_accounts WHERE token_hash = $1', [
    hashToken(token),
  ]);
  if (!row) throw bankError('unauthorized', 'unknown account token');
  return row.id;
}

/** Refuses (403 `forbidden`) a token that is not the account's own. */
export async function authorize(ctx: BankContext, token: string | undefined, accountId: string) {
  const holder = await authenticate(ctx, token);
  if (holder !== accountId)
    throw bankError('forbidden', `this token does not authorize account ${accountId}`);
}

/** Opens an account; an opening balance only in dev mode, written as the account's first entry. */
export async function createAccount(
  ctx: BankContext,
  input: { name: string; initialBalance?: bigint | undefined },
): Promise<CreatedAccount> {
  const initial = input.initialBalance ?? 0n;
  if (initial < 0n || initial > MAX_MINOR)
    throw bankError('invalid_amount', 'initialBalance is out of range');
  if (initial > 0n && !ctx.dev) {
    throw bankError(
      'initial_balance_not_allowed',
      'initialBalance is allowed only when the bank runs in dev mode',
    );
  }
  const id = newId(ctx, ACCOUNT_ID_PREFIX);
  const token = TOKEN_PREFIX + toBase64url(ctx.random(32));
  const now = BigInt(ctx.clock.now());
  await ctx.db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO bank_accounts (id, name, balance, token_hash, last_seq, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [id, input.name, initial, hashToken(token), initial > 0n ? 1n : 0n, now],
    );
    if (initial > 0n) {
      await tx.query(
        `INSERT INTO bank_entries (account_id, seq, kind, amount, balance_after, created_at)
         VALUES ($1, 1, 'opening', $2, $2, $3)`,
        [id, initial, now],
      );
    }
  });
  return { id, name: input.name, balance: initial, token };
}

export async function getAccount(
  ctx: BankContext,
  token: string | undefined,
  accountId: string,
): Promise<Account> {
  await authorize(ctx, token, accountId);
  const [row] = await ctx.db.query<{ id: string; name: string; balance: bigint }>(
    'SELECT id, name, balance FROM bank_accounts WHERE id = $1',
    [accountId],
  );
  invariant(row, `authorized account ${accountId} has no row`);
  return row;
}
