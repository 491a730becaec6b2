/**
 * docs/ are the contract: this test fails when docs/protocol.md and the code drift apart. Every JSON
 * example in protocol.md parses with the schema of its kind; the §10 tables and docs/terms.schema.json are
 * what `npm run docs:codes` makes from the code; docs/broker.md §15.1 lists exactly the broker's own codes
 * with their statuses.
 */
import { readFileSync } from 'node:fs';
import {
  decodeMessage,
  type MessageKind,
  PROTOCOL_ERROR_CODES,
  SerializedTraversalSchema,
  TermsSchema,
} from '@netpay/protocol';
import { describe, expect, it } from 'vitest';
import {
  BROKER_MD,
  PROTOCOL_MD,
  render,
  TERMS_SCHEMA,
  tableRows,
  termsJsonSchema,
} from '../../../tools/docs-codes.ts';
import { BROKER_ERROR_STATUS } from '../../broker/src/errors.ts';

const doc = readFileSync(PROTOCOL_MD, 'utf8');

/** The message kind of each section's examples (a `<!-- example: kind -->` marker overrides). */
const KIND_BY_SECTION: Record<string, MessageKind | 'traversal' | 'terms'> = {
  '## 4.': 'traversal',
  '### 5.6': 'touchstone',
  '### 6.2': 'touchstone',
  '### 6.3': 'index',
  '### 6.4': 'payment',
  '### 6.5': 'receipt',
  '### 6.6': 'handover-request',
  '### 6.7': 'handover-response',
  '### 6.8': 'claim',
};

function examples() {
  const out: { section: string; kind: string | undefined; json: string }[] = [];
  let section = '';
  let marker: string | undefined;
  const lines = doc.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^#{2,3} /.test(line)) section = line;
    const m = /<!-- example: ([a-z-]+) -->/.exec(line);
    if (m) marker = m[1];
    if (line.trim() === '```json') {
      const body: string[] = [];
      while (lines[++i]!.trim() !== '```') body.push(lines[i]!);
      const key = Object.keys(KIND_BY_SECTION).find((k) => section.startsWith(k));
      out.push({ section, kind: marker ?? (key ? KIND_BY_SECTION[key] : undefined), json: body.join('\n') });
      marker = undefined;
    }
  }
  return out;
}

describe('docs/protocol.md against the code', () => {
  const all = examples();

  it('has examples, each of a known kind', () => {
    expect(all.length).toBeGreaterThanOrEqual(9);
    for (const e of all) expect(e.kind, `example in ${e.section}`).toBeDefined();
  });

  for (const e of examples()) {
    it(`parses the ${e.kind} example of "${e.section}" with its schema`, () => {
      const value = JSON.parse(e.json);
      if (e.kind === 'traversal') expect(SerializedTraversalSchema.safeParse(value).success).toBe(true);
      else if (e.kind === 'terms') expect(TermsSchema.safeParse(value).error).toBeUndefined();
      else {
        const r = decodeMessage(e.kind as MessageKind, value);
        expect(r.ok ? 'ok' : r.error.message).toBe('ok');
      }
    });
  }

  it('has the error tables and the terms schema the code makes (npm run docs:codes)', () => {
    expect(render(doc)).toBe(doc);
    expect(readFileSync(TERMS_SCHEMA, 'utf8')).toBe(termsJsonSchema());
  });

  it("lists exactly the broker's own codes with their statuses in docs/broker.md §15.1", () => {
    const rows = tableRows(readFileSync(BROKER_MD, 'utf8'), '### 15.1 Broker codes');
    const protocol = new Set<string>(PROTOCOL_ERROR_CODES);
    const own = Object.entries(BROKER_ERROR_STATUS).filter(([c]) => !protocol.has(c));
    expect(Object.fromEntries(rows)).toEqual(Object.fromEntries(own));
  });
});
