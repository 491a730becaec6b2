/**
 * Only the directory's store touches the `chains` and `chain_holdings` tables (issue 14): every other
 * module of the broker calls the functions in store.ts. Pure file reading, no database.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('..', import.meta.url));
const STORE = 'directory/store.ts';
/** SQL that reads or writes the tables (whitespace, line breaks included, between keyword and table). */
const CHAINS_SQL = /\b(?:from|join|update|into)\s+chains\b|\bchain_holdings\b/gi;

/** Every .ts module under src, tests left out, as a path relative to src. */
function modules(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return modules(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [relative(SRC, path)] : [];
  });
}

/** `file:line: text` for each match of CHAINS_SQL in `text`. */
function chainsSqlIn(file: string, text: string): string[] {
  return [...text.matchAll(CHAINS_SQL)].map((m) => {
    const line = text.slice(0, m.index).split('\n').length;
    return `${file}:${line}: ${m[0].replace(/\s+/g, ' ')}`;
  });
}

describe('the chains table belongs to the directory store', () => {
  it('finds the SQL it looks for, across line breaks and in any case', () => {
    expect(chainsSqlIn('x.ts', "db.query(`SELECT n FROM\n  chains WHERE`)\n'update Chains set'")).toEqual([
      'x.ts:1: FROM chains',
      'x.ts:3: update Chains',
    ]);
    expect(chainsSqlIn('x.ts', 'a\n"DELETE FROM chain_holdings"')).toEqual(['x.ts:2: chain_holdings']);
    expect(chainsSqlIn('x.ts', 'JOIN chains_archive; the chains, from chains to coins')).toEqual([
      'x.ts:1: from chains',
    ]);
  });

  it('has no such SQL in any module but directory/store.ts', () => {
    const files = modules();
    expect(files).toContain(STORE);
    const found = files
      .filter((f) => f.split('\\').join('/') !== STORE)
      .flatMap((f) => chainsSqlIn(f, readFileSync(join(SRC, f), 'utf8')));
    expect(found, 'move these statements into directory/store.ts and call them from there').toEqual([]);
  });
});
