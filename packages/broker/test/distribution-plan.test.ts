/**
 * The broker's schema against its Citus plan (docs/operations.md §4.1): every table a migrated database
 * has is in the plan with a key column it really has, and no statement the hot paths run (issuance,
 * directory claim, hand-over and backup, redemption, recorded while a real broker on PGlite serves them)
 * joins two distributed tables on anything but their common distribution key.
 */
import { readFileSync } from 'node:fs';
import type { Db, Queryable } from '@netpay/db';
import { openTestDatabase } from '@netpay/db/testing';
import { type Claim, signMessage, toBase64url } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientChain, startWorld, type Vendor, type World } from './world.ts';

interface Placement {
  readonly distribution: 'distributed' | 'reference';
  readonly key: string;
  readonly group: string;
}

const DOC = new URL('../../../docs/operations.md', import.meta.url);

/** The plan: the table between the distribution-plan markers of docs/operations.md. */
export function readPlan(text = readFileSync(DOC, 'utf8')): Map<string, Placement> {
  const section = /<!-- distribution-plan:start -->([\s\S]*?)<!-- distribution-plan:end -->/.exec(text)?.[1];
  if (!section) throw new Error('docs/operations.md has no distribution-plan section');
  const rows = section
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('|') && !/^\|\s*(table|---)/.test(l));
  return new Map(
    rows.map((l) => {
      const [table, distribution, key, group] = l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
      if (distribution !== 'distributed' && distribution !== 'reference')
        throw new Error(`plan row ${l}: distribution must be distributed or reference`);
      return [table!, { distribution, key: key!, group: group! }];
    }),
  );
}

const NOT_ALIASES = new Set(
  'where on set values join left right inner outer full cross order group limit for using returning select and or natural default as having union with'.split(
    ' ',
  ),
);

/** The tables a statement names (FROM, JOIN, UPDATE, INSERT INTO, DELETE FROM): alias, and where its clause runs. */
function tablesIn(sql: string): Ref[] {
  const found = [...sql.matchAll(/\b(?:from|join|update|into)\s+([a-z_]+)(?:\s+(?:as\s+)?([a-z_]+))?/g)];
  return found.map((m, k) => {
    const alias = m[2] && !NOT_ALIASES.has(m[2]) ? m[2] : m[1]!;
    return { table: m[1]!, alias, at: m.index, end: found[k + 1]?.index ?? sql.length };
  });
}

interface Ref {
  readonly table: string;
  readonly alias: string;
  /** Where the table is named, and where the next table is (its unqualified conditions lie between). */
  readonly at: number;
  readonly end: number;
}

/** Splits `a, f(b, c), d` at its top-level commas. */
function topLevel(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let part = '';
  for (const ch of list) {
    if (ch === ',' && depth === 0) {
      out.push(part.trim());
      part = '';
      continue;
    }
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    part += ch;
  }
  out.push(part.trim());
  return out;
}

/**
 * The parameter a table's key is pinned to in a statement (`key = $n`, or `$n` inserted as its key), or
 * undefined. Statements whose tables of one group are all pinned to one value run on that value's shard
 * (a CTE that updates a chain and inserts its holding, both `chain_id = $1`).
 */
function pinOf(sql: string, ref: Ref, key: string): string | undefined {
  // Qualified (alias.key) anywhere in the statement; unqualified only in the table's own clause.
  const qualified =
    ref.alias !== ref.table ? new RegExp(`\\b${ref.alias}\\.${key} ?= ?(\\$\\d+)`).exec(sql) : null;
  if (qualified) return qualified[1];
  const own = new RegExp(`(?:^|[^.a-z_])${key} ?= ?(\\$\\d+)`).exec(sql.slice(ref.at, ref.end));
  if (own) return own[1];
  const insert = new RegExp(`^into ${ref.table} \\(([^)]*)\\) (?:values \\(|select )(.*)`).exec(
    sql.slice(ref.at),
  );
  if (!insert) return undefined;
  const column = topLevel(insert[1]!).indexOf(key);
  const value = column < 0 ? undefined : topLevel(insert[2]!)[column];
  return value && /^\$\d+$/.test(value) ? value : undefined;
}

/**
 * Why a statement joins distributed tables across keys, or null: every distributed table after the first
 * must be tied to one of the same group by `x.key = y.key` (or USING (key)), or both pinned to the same
 * key value; tables of two groups cannot be.
 */
export function crossKeyJoin(statement: string, plan: ReadonlyMap<string, Placement>): string | null {
  const sql = statement.toLowerCase().replace(/\s+/g, ' ');
  if (/\bfrom [a-z_]+( [a-z_]+)? ?,/.test(sql)) return `comma join in: ${sql}`;
  const refs = tablesIn(sql).filter((r) => plan.get(r.table)?.distribution === 'distributed');
  const equal = [...sql.matchAll(/\b([a-z_]+)\.([a-z_]+) ?= ?([a-z_]+)\.([a-z_]+)\b/g)].map((m) => ({
    a: m[1]!,
    ka: m[2]!,
    b: m[3]!,
    kb: m[4]!,
  }));
  for (const [k, ref] of refs.entries()) {
    if (k === 0) continue;
    const mine = plan.get(ref.table)!;
    const tied = refs.some((other, j) => {
      if (j === k) return false;
      const theirs = plan.get(other.table)!;
      if (theirs.group !== mine.group) return false;
      const using = new RegExp(`using ?\\( ?${mine.key} ?\\)`).test(sql) && mine.key === theirs.key;
      const pin = pinOf(sql, ref, mine.key);
      return (
        using ||
        (pin !== undefined && pin === pinOf(sql, other, theirs.key)) ||
        equal.some(
          (e) =>
            (e.a === ref.alias && e.ka === mine.key && e.b === other.alias && e.kb === theirs.key) ||
            (e.b === ref.alias && e.kb === mine.key && e.a === other.alias && e.ka === theirs.key),
        )
      );
    });
    if (!tied) return `${ref.table} (${mine.group}: ${mine.key}) is not joined on its key in: ${sql}`;
  }
  return null;
}

/** A database that keeps the statements run through it while `phase` is set. */
function recording(db: Db) {
  const seen = new Map<string, Set<string>>();
  let phase: string | undefined;
  const keep = (sql: string) => {
    if (!phase) return;
    const set = seen.get(phase) ?? new Set();
    set.add(sql.replace(/\s+/g, ' ').trim());
    seen.set(phase, set);
  };
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params) => {
      keep(sql);
      return q.query(sql, params);
    },
    exec: (sql) => q.exec(sql),
  });
  const wrapped: Db = {
    ...wrap(db),
    kind: db.kind,
    transaction: (fn, options) => db.transaction((tx) => fn(wrap(tx)), options),
    close: () => db.close(),
  };
  return {
    db: wrapped,
    seen,
    during: async <T>(name: string, fn: () => Promise<T>) => {
      phase = name;
      try {
        return await fn();
      } finally {
        phase = undefined;
      }
    },
  };
}

describe('the Citus plan of docs/operations.md', () => {
  const plan = readPlan();

  it('reads the plan and finds joins across keys in SQL', () => {
    expect(plan.get('chains')).toEqual({ distribution: 'distributed', key: 'chain_id', group: 'chain' });
    expect(
      crossKeyJoin('SELECT 1 FROM chains c JOIN chain_holdings h ON h.chain_id = c.chain_id', plan),
    ).toBeNull();
    expect(crossKeyJoin('SELECT 1 FROM chains c JOIN parties p ON p.id = c.holder', plan)).toBeNull();
    expect(crossKeyJoin('SELECT 1 FROM chains c JOIN redemptions r USING (chain_id)', plan)).toBeNull();
    expect(
      crossKeyJoin(
        'SELECT (SELECT sum(amount) FROM redemptions r WHERE r.chain_id = c.chain_id) FROM chains c',
        plan,
      ),
    ).toBeNull();
    expect(crossKeyJoin('SELECT 1 FROM chains c JOIN redemptions r ON r.party_id = c.holder', plan)).toMatch(
      /redemptions/,
    );
    expect(
      crossKeyJoin('SELECT 1 FROM chains c JOIN ledger_accounts a ON a.id = c.customer_id', plan),
    ).toMatch(/ledger_accounts/);
    expect(crossKeyJoin('SELECT 1 FROM chains c, redemptions r WHERE r.chain_id = c.chain_id', plan)).toMatch(
      /comma join/,
    );
    const cte = (p: string) =>
      `WITH x AS (UPDATE chains SET holder = $2 WHERE chain_id = $1) INSERT INTO chain_holdings (chain_id, seq) SELECT ${p}, coalesce(max(seq), 0) + 1 FROM chain_holdings WHERE chain_id = $1`;
    expect(crossKeyJoin(cte('$1'), plan)).toBeNull();
    // A row inserted under another chain id than the one read: two shards.
    expect(crossKeyJoin(cte('$3'), plan)).toMatch(/chain_holdings/);
    expect(
      crossKeyJoin(
        'WITH x AS (UPDATE chains SET n = 1 WHERE chain_id = $1) INSERT INTO redemptions (chain_id) VALUES ($2)',
        plan,
      ),
    ).toMatch(/redemptions/);
  });

  it('has every table of a migrated broker database, each with its key column', async () => {
    const db = await openTestDatabase('pglite');
    try {
      const { migrate } = await import('@netpay/db');
      const { BROKER_MIGRATIONS } = await import('../src/migrations.ts');
      await migrate(db, BROKER_MIGRATIONS);
      const rows = await db.query<{ table_name: string; column_name: string }>(
        `SELECT table_name, column_name FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> 'schema_migrations'`,
      );
      const columns = new Map<string, Set<string>>();
      for (const r of rows)
        columns.set(r.table_name, (columns.get(r.table_name) ?? new Set()).add(r.column_name));
      expect([...columns.keys()].sort(), 'tables of the schema vs the plan').toEqual([...plan.keys()].sort());
      for (const [table, p] of plan) expect(columns.get(table)?.has(p.key), `${table}.${p.key}`).toBe(true);
      for (const p of plan.values()) if (p.distribution === 'reference') expect(p.group).toBe('reference');
    } finally {
      await db.close();
    }
  });

  describe('the hot paths, recorded on a running broker', () => {
    let w: World;
    let rec: ReturnType<typeof recording>;
    beforeAll(async () => {
      rec = recording(await openTestDatabase('pglite'));
      w = await startWorld('pglite', { db: rec.db });
    });
    afterAll(() => w?.close());

    const index = (v: Vendor, chainId: string, i: number, word: Uint8Array, handedTo: string | null) =>
      signMessage(
        'index',
        {
          v: 1,
          chainId,
          index: i,
          payword: toBase64url(word),
          vendorId: v.id,
          handedTo,
          issuedAt: Math.floor(w.clock() / 1000),
        },
        v.signer,
      );

    it('joins distributed tables only on their common key', async () => {
      const alice = await w.newCustomer('planner', 10_000_000n, 1_000_000n);
      const [a, b] = [await w.newVendor(), await w.newVendor()];
      const chain = clientChain(20);
      const words = [Buffer.from(chain.root, 'base64url') as Uint8Array];
      await rec.during('issuance', async () => {
        const r = await w.call('POST', '/me/chains', {
          token: alice.token,
          body: { chains: [{ coinValue: '10', n: 20, chainId: chain.chainId, root: chain.root }] },
        });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      });
      for (let i = 1; i <= 20; i++) words.push(chain.traversal.next()!.payword);
      const id = chain.chainId;
      await rec.during('claim', async () => {
        const r = await w.call('POST', '/directory/claim', { signer: w.asVendor(a), body: { chainId: id } });
        expect(r.body.granted).toBe(true);
      });
      await rec.during('backup', async () => {
        const r = await w.call('POST', '/directory/backup', {
          signer: w.asVendor(a),
          body: { index: index(a, id, 3, words[3]!, null) },
        });
        expect(r.body.backupIndex).toBe(3);
      });
      await rec.during('handover', async () => {
        const r = await w.call('POST', '/directory/handover', {
          signer: w.asVendor(b),
          body: { index: index(a, id, 5, words[5]!, b.id) },
        });
        expect(r.body).toMatchObject({ granted: true, index: 5 });
      });
      const claim = (v: Vendor, from: number, to: number, n: number): Claim =>
        signMessage(
          'claim',
          {
            v: 1,
            claimId: toBase64url(
              new TextEncoder().encode(`plan-claim-${n}-${v.id}`.slice(0, 16).padEnd(16, '.')),
            ),
            vendorId: v.id,
            chainId: id,
            from: { index: from, payword: toBase64url(words[from]!) },
            to: { index: to, payword: toBase64url(words[to]!) },
            issuedAt: Math.floor(w.clock() / 1000),
          },
          v.signer,
        );
      await rec.during('redemption', async () => {
        for (const [v, from, to, n] of [
          [a, 0, 5, 1],
          [b, 5, 8, 2],
        ] as const) {
          const r = await w.call('POST', '/redemptions', {
            signer: w.asVendor(v),
            body: { claims: [claim(v, from, to, n)] },
          });
          expect(r.body.results[0], JSON.stringify(r.body)).toMatchObject({ status: 'credited' });
        }
      });
      expect([...rec.seen.keys()].sort()).toEqual(['backup', 'claim', 'handover', 'issuance', 'redemption']);
      const found = [...rec.seen.entries()].flatMap(([phase, statements]) =>
        [...statements]
          .map((s) => crossKeyJoin(s, plan))
          .filter((v) => v !== null)
          .map((v) => `${phase}: ${v}`),
      );
      expect(found).toEqual([]);
      // Each hot path reached the tables it is about.
      const all = (phase: string) => [...rec.seen.get(phase)!].join('\n').toLowerCase();
      expect(all('issuance')).toMatch(/into chains/);
      expect(all('claim')).toMatch(/chain_holdings/);
      expect(all('redemption')).toMatch(/into redemptions/);
      await w.audit();
    });
  });
});
