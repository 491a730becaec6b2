/**
 * Logins: an e-mail address or an E.164 phone number, stored normalised (docs/broker.md §6.2 "Logins").
 *
 * Normal form: Unicode NFKC, lower case, NFKC again (so `ａlice@Example.com`, full-width, is
 * `alice@example.com`), trimmed. Registering, signing in, the dev outbox and the recipient of a send all
 * look logins up in this form, so two spellings of one login are one account.
 *
 * A new login (and the recipient of a send) is refused with `login_confusable` when it could pass for
 * another one (Unicode TS #39, in a small form): an invisible or control character (zero-width, bidi
 * controls, soft hyphen), a part (the local part, each domain label) mixing scripts beyond what the
 * "highly restrictive" level allows (Latin with Han and Japanese kana, with Han and Bopomofo, or with Han
 * and Hangul), or a part written only with Cyrillic or Greek letters that look like Latin ones (`раураl`).
 */
import { fail } from '../errors.ts';

const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@]{2,63}$/;
const PHONE_RE = /^\+[1-9][0-9]{6,14}$/;

/** A login in its stored form, or null when it is neither an e-mail address nor an E.164 phone number. */
export function normalizeLogin(login: string): string | null {
  const folded = login.normalize('NFKC').toLowerCase().normalize('NFKC').trim();
  if (PHONE_RE.test(folded)) return folded;
  if (EMAIL_RE.test(folded)) return folded;
  return null;
}

// Invisible or control: controls, format characters (zero-width, bidi), private use, unassigned,
// line and paragraph separators, and whatever Unicode says a renderer may show as nothing.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;

/** The scripts a login's letters are told apart by; a letter of any other script is refused. */
const SCRIPTS: readonly [string, RegExp][] = [
  'Latin',
  'Greek',
  'Cyrillic',
  'Armenian',
  'Hebrew',
  'Arabic',
  'Devanagari',
  'Bengali',
  'Gurmukhi',
  'Gujarati',
  'Tamil',
  'Telugu',
  'Kannada',
  'Malayalam',
  'Sinhala',
  'Thai',
  'Lao',
  'Georgian',
  'Ethiopic',
  'Khmer',
  'Hangul',
  'Hiragana',
  'Katakana',
  'Bopomofo',
  'Han',
].map((s) => [s, new RegExp(`\\p{Script=${s}}`, 'u')]);
const NEUTRAL = /[\p{Script=Common}\p{Script=Inherited}]/u;

/** Mixes UTS #39's "highly restrictive" level allows besides a single script. */
const ALLOWED_MIXES: readonly ReadonlySet<string>[] = [
  new Set(['Latin', 'Han', 'Hiragana', 'Katakana']),
  new Set(['Latin', 'Han', 'Bopomofo']),
  new Set(['Latin', 'Han', 'Hangul']),
];

// Cyrillic and Greek lower-case letters that look like Latin ones (from Unicode's confusables.txt).
const LATIN_LOOKALIKES = new Set([...'аеорсухіјѕԁһԛԝӏ', ...'οαινκρυχγ']);

/** The scripts of a part's letters (Common and Inherited characters count for none), or null if unknown. */
function scriptsOf(part: string): Set<string> | null {
  const found = new Set<string>();
  for (const ch of part) {
    if (NEUTRAL.test(ch)) continue;
    const script = SCRIPTS.find(([, re]) => re.test(ch));
    if (!script) return null;
    found.add(script[0]);
  }
  return found;
}

/** Why a part could pass for another, or undefined when it cannot. */
function confusablePart(part: string): string | undefined {
  const scripts = scriptsOf(part);
  if (!scripts) return `"${part}" has letters of a script logins do not take`;
  if (scripts.size > 1 && !ALLOWED_MIXES.some((mix) => [...scripts].every((s) => mix.has(s)))) {
    return `"${part}" mixes scripts (${[...scripts].join(', ')})`;
  }
  const [only] = scripts;
  if (scripts.size === 1 && (only === 'Cyrillic' || only === 'Greek')) {
    const letters = [...part].filter((ch) => !NEUTRAL.test(ch));
    if (letters.every((ch) => LATIN_LOOKALIKES.has(ch))) {
      return `"${part}" is written only with ${only} letters that look like Latin ones`;
    }
  }
  return undefined;
}

/**
 * The stored form of a login given to register or to send to. Throws 400 `bad_request` for what is no
 * login, and 400 `login_confusable` for one that could pass for another.
 */
export function checkedLogin(login: string): string {
  const normal = normalizeLogin(login);
  if (!normal)
    throw fail('bad_request', 'login must be an email address or a phone number like +14155550100');
  const invisible = INVISIBLE.exec(normal);
  if (invisible) {
    const code = invisible[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw fail('login_confusable', `login holds an invisible or control character (U+${code})`);
  }
  if (PHONE_RE.test(normal)) return normal;
  const [local, domain] = normal.split('@') as [string, string];
  for (const part of [local, ...domain.split('.')]) {
    const why = confusablePart(part);
    if (why) throw fail('login_confusable', `login could pass for another: ${why}`);
  }
  return normal;
}
