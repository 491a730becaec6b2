/**
 * Each broker table belongs to one feature's store.ts, the only module whose SQL touches it (issue 14):
 * the other features call that store's functions. Only the directory's store touches `chains` and
 * `chain_holdings`. The few statements that read another feature's table in a join are listed in
 * CROSS_READS with their reason; none may write it. Pure file reading, no database.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('.', import.meta.url));
const MIGRATIONS = join(SRC, 'migrations');

/** Every table the broker's migrations create, and the store that owns it. */
const OWNER: Record<string, string> = {
  ledger_accounts: 'ledger/store.ts',
  ledger_transfers: 'ledger/store.ts',
  customers: 'accounts/store.ts',
  devices: 'accounts/store.ts',
  sessions: 'accounts/store.ts',
  login_failures: 'accounts/store.ts',
  outbox: 'accounts/store.ts',
  parties: 'parties/store.ts',
  party_invitations: 'parties/store.ts',
  broker_keys: 'keys/store.ts',
  chains: 'directory/store.ts',
  chain_holdings: 'directory/store.ts',
  redemptions: 'redemption/store.ts',
  fraud_evidence: 'fraud/store.ts',
  charge_backs: 'fraud/store.ts',
  payout_runs: 'settlement/store.ts',
  payouts: 'settlement/store.ts',
  bank_movements: 'issuance/store.ts',
  wallet_grants: 'wallet/store.ts',
  wallet_codes: 'wallet/store.ts',
  wallet_tokens: 'wallet/store.ts',
  wallet_charges: 'wallet/store.ts',
  p2p_files: 'p2p/store.ts',
  job_leases: 'jobs/store.ts',
  token_failures: 'guard/store.ts',
};

/** Reads of another feature's table inside one statement, each with why it is not two calls. */
const CROSS_READS: Record<string, readonly string[]> = {
  // A customer's chains and their outstanding value sum the chains' redemptions in the same statement;
  // a claim locks its chain and reads the URL of the vendor holding it in one statement (a hand-over's
  // first step, on the payment's path).
  'directory/store.ts': ['redemptions', 'parties'],
  // The vendors' balances due are found and locked (FOR UPDATE OF the ledger account) in one statement.
  'settlement/store.ts': ['parties', 'ledger_accounts'],
  // Search leaves out frozen peers and peers without a URL in the statement that counts each file's
  // peers and ranks the files by them.
  'p2p/store.ts': ['parties'],
};

interface Use {
  readonly file: string;
  readonly line: number;
  readonly table: string;
  readonly write: boolean;
}

const SQL = /\b(delete\s+from|from|join|update|into)\s+([a-z_]+)\b/gi;

/** The uses of `tables` in SQL in `text` (whitespace and line breaks allowed between keyword and table). */
function usesIn(file: string, text: string, tables: ReadonlySet<string>): Use[] {
  return [...text.matchAll(SQL)].flatMap((m) => {
    const [, keyword = '', name = ''] = m;
    const table = name.toLowerCase();
    if (!tables.has(table)) return [];
    const line = text.slice(0, m.index).split('\n').length;
    return [{ file, line, table, write: !/^(from|join)$/i.test(keyword) }];
  });
}

/** A use the rules above forbid, as `file:line: table`, or null. */
function violation(u: Use): string | null {
  if (OWNER[u.table] === u.file) return null;
  if (!u.write && CROSS_READS[u.file]?.includes(u.table)) return null;
  return `${u.file}:${u.line}: ${u.write ? 'writes' : 'reads'} ${u.table} (owned by ${OWNER[u.table]})`;
}

/** Every .ts module under src, tests left out, as a path relative to src with forward slashes. */
function modules(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return modules(path);
    const ok = e.name.endsWith('.ts') && !e.name.endsWith('.test.ts');
    return ok ? [relative(SRC, path).split('\\').join('/')] : [];
  });
}

const createdTables = () =>
  readdirSync(MIGRATIONS).flatMap((f) =>
    [...readFileSync(join(MIGRATIONS, f), 'utf8').matchAll(/CREATE TABLE (\w+)/gi)].map((m) => m[1]),
  );

describe("each broker table is touched only by its feature's store", () => {
  const tables = new Set(Object.keys(OWNER));

  it('finds reads and writes across line breaks and in any case, and tells them apart', () => {
    const text = 'q(`SELECT n FROM\n  chains`)\n"update Chains set"\n"DELETE FROM payouts"\n"JOIN chains_x"';
    expect(usesIn('x.ts', text, tables)).toEqual([
      { file: 'x.ts', line: 1, table: 'chains', write: false },
      { file: 'x.ts', line: 3, table: 'chains', write: true },
      { file: 'x.ts', line: 4, table: 'payouts', write: true },
    ]);
    expect(violation({ file: 'settlement/store.ts', line: 1, table: 'parties', write: false })).toBeNull();
    expect(violation({ file: 'settlement/store.ts', line: 1, table: 'parties', write: true })).toMatch(
      /writes parties/,
    );
    expect(violation({ file: 'refunds/service.ts', line: 9, table: 'chains', write: false })).toBe(
      'refunds/service.ts:9: reads chains (owned by directory/store.ts)',
    );
  });

  it('knows the owner of every table the migrations create', () => {
    expect([...createdTables()].sort()).toEqual([...tables].sort());
  });

  it('has no SQL on a table outside its owner but the listed cross-reads', () => {
    const files = modules();
    for (const owner of new Set(Object.values(OWNER))) expect(files).toContain(owner);
    const found = files
      .flatMap((f) => usesIn(f, readFileSync(join(SRC, f), 'utf8'), tables))
      .map(violation)
      .filter((v) => v !== null);
    expect(found, "call the owner store's functions instead").toEqual([]);
  });
});
