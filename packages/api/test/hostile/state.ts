/**
 * What the hostile-input run compares around each operation: every table of the broker's and the vendor's
 * databases (a count and a hash of the rows) and the bank statements of the accounts whose tokens it uses.
 */
import type { Db } from '@netpay/db';
import type { Operation } from './cases.ts';
import type { Services } from './services.ts';

/** Each table of a database as a count and a hash of its rows, to see that nothing changed. */
async function tableHashes(db: Db): Promise<Record<string, string>> {
  const tables = await db.query<{ t: string }>(
    "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
  );
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const [row] = await db.query<{ n: string; h: string | null }>(
      `SELECT count(*)::text AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS h FROM "${t}" x`,
    );
    out[t] = `${row?.n}:${row?.h ?? ''}`;
  }
  return out;
}

/**
 * Tables that count attempts on purpose (docs/broker.md §4): a sign-in with a wrong password is counted
 * before the password is checked, and a wrong bearer token by its address. Not state a refusal must leave
 * alone.
 */
const ATTEMPT_COUNTERS = new Set(['broker.login_failures', 'broker.token_failures']);

export async function snapshot(s: Services): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, db] of [
    ['broker', s.brokerDb],
    ['vendor', s.vendorDb],
  ] as const) {
    for (const [t, h] of Object.entries(await tableHashes(db))) {
      if (!ATTEMPT_COUNTERS.has(`${name}.${t}`)) out[`${name}.${t}`] = h;
    }
  }
  for (const [account, token] of [
    [s.parties.bankAccount, s.parties.bankToken],
    [s.parties.otherBankAccount, s.parties.otherBankToken],
  ] as const) {
    const st = await s.bankClient.statement(token, account, { limit: 200 });
    out[`bank.${account}`] = JSON.stringify(st.entries.map((e) => [String(e.seq), String(e.amount)]));
  }
  return out;
}

/**
 * What a refused payment may change: one that names a real chain makes the vendor claim the chain at the
 * broker (it gets the touchstone, which it needs to check the payword, with the claim: protocol.md §7), so
 * the chain may move to the vendor though the payment is refused. No money moves.
 */
const PAYMENT_CLAIMS = [
  'broker.chains',
  'broker.chain_holdings',
  'broker.idempotency_keys',
  'vendor.vendor_chains',
];
export const allowedChanges = (op: Operation) =>
  op.service === 'vendor' && op.path === '/{*}' ? PAYMENT_CLAIMS : [];

/**
 * The state once writes an operation started have landed (a vendor writes accepted chains behind its
 * answers): snapshots until two in a row agree, so they are not taken for the next operation's.
 */
export async function settled(s: Services): Promise<Record<string, string>> {
  let last = await snapshot(s);
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const next = await snapshot(s);
    if (diff(last, next).length === 0) return next;
    last = next;
  }
  return last;
}

export const diff = (a: Record<string, string>, b: Record<string, string>) =>
  [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]);
