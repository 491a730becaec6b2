/**
 * Vendors and peers: each registers an Ed25519 public key (proving possession by signing the registration
 * request with it) and signs its later requests with it. Their earnings accrue in a vendor ledger account.
 * A new party needs an operator's invitation unless registration is open (dev mode, invitations.ts).
 * A new peer also gets its coin account (accounts/peer.ts), and a peer that spent coins twice is frozen.
 * Every function takes its dependencies explicitly; createPartyService binds them.
 */
import type { Queryable } from '@netpay/db';
import { fromBase64url, toBase64url } from '@netpay/protocol';
import { openPeerAccount } from '../accounts/peer.ts';
import type { BrokerBasics } from '../context.ts';
import { fail } from '../errors.ts';
import { type Ledger, vendorAccount } from '../ledger/ledger.ts';
import { createInvitation, type InvitationRequest, useInvitation } from './invitations.ts';
import * as store from './store.ts';

export interface PartyDeps extends BrokerBasics {
  readonly ledger: Pick<Ledger, 'openAccount' | 'balance' | 'post'>;
  /** Public keys by party id: a party's key never changes, so it is read once. */
  readonly keyCache: Map<string, Uint8Array>;
  /** Kinds by party id: fixed at first registration, so read once too. */
  readonly kindCache: Map<string, PartyKind>;
}

export type PartyKind = 'vendor' | 'peer';

export interface PartyRegistration {
  readonly id: string;
  readonly kind: 'vendor' | 'peer';
  readonly name: string;
  readonly publicKey: string;
  readonly url?: string;
  readonly bankAccount?: string;
  /** Needed for a new party unless registration is open (invitations.ts). */
  readonly invitation?: string;
}

/**
 * Registers a party, or updates its name, site and bank account when it registers again with its key. In
 * tokens mode (`p2p.currency`) a peer may name no bank account: its earnings are tokens, never paid out.
 */
export async function register(d: Omit<PartyDeps, 'keyCache' | 'kindCache'>, p: PartyRegistration) {
  const key = fromBase64url(p.publicKey)!;
  const details = { id: p.id, name: p.name, url: p.url ?? null, bankAccount: p.bankAccount ?? null };
  return d.db.transaction(async (tx) => {
    const existing = await store.partyById(tx, p.id);
    if (existing && toBase64url(existing.public_key) !== p.publicKey)
      throw fail('party_exists', `party ${p.id} is registered with another key`);
    // The kind is fixed at first registration: a peer registering again as a vendor is still a peer.
    if (
      details.bankAccount !== null &&
      d.config.p2p.currency === 'tokens' &&
      (existing?.kind ?? p.kind) === 'peer'
    )
      throw fail(
        'bad_request',
        'a peer earns tokens here (p2p.currency "tokens"), never paid out: register it without bankAccount',
      );
    if (existing) {
      await store.updateParty(tx, details);
    } else {
      await useInvitation(d, tx, p, p.invitation);
      await store.insertParty(tx, { ...details, kind: p.kind, publicKey: key, createdAt: d.clock() });
      await d.ledger.openAccount(tx, vendorAccount(p.id), 'vendor');
      if (p.kind === 'peer') await openPeerAccount(d, tx, p.id);
    }
    return get(d, p.id, tx);
  });
}

/** A registered party with its balance, or unknown_party. */
export async function get(d: Pick<PartyDeps, 'db' | 'ledger'>, id: string, q: Queryable = d.db) {
  const row = await store.partyById(q, id);
  if (!row) throw fail('unknown_party', `no vendor or peer ${id} is registered`);
  return {
    id: row.id,
    kind: row.kind as PartyKind,
    name: row.name,
    publicKey: toBase64url(row.public_key),
    url: row.url,
    bankAccount: row.bank_account,
    balance: (await d.ledger.balance(q, vendorAccount(row.id))).toString(),
    /** A peer frozen for a double spend (docs/p2p.md §5). */
    frozen: row.frozen_at !== null,
  };
}

/** The kind of a registered party, or undefined (cached: a party's kind never changes). */
export async function kindOf(
  d: Pick<PartyDeps, 'db' | 'kindCache'>,
  id: string,
  q: Queryable = d.db,
): Promise<PartyKind | undefined> {
  const cached = d.kindCache.get(id);
  if (cached) return cached;
  const kind = (await store.partyById(q, id))?.kind as PartyKind | undefined;
  if (kind) remember(d.kindCache, id, kind);
  return kind;
}

/** Public key of a registered party, for signed requests and signed messages (cached: keys never change). */
export async function publicKey(
  d: Pick<PartyDeps, 'db' | 'keyCache'>,
  id: string,
  q: Queryable = d.db,
): Promise<Uint8Array | undefined> {
  const cached = d.keyCache.get(id);
  if (cached) return cached;
  const key = await store.partyKey(q, id);
  if (key) remember(d.keyCache, id, key);
  return key;
}

/**
 * The caches hold only what never changes once stored (a party's key and kind), so every broker process
 * over one database may keep its own (docs/operations.md §2). Bounded: past MAX_CACHED parties, start over.
 */
const MAX_CACHED = 10_000;
function remember<V>(cache: Map<string, V>, id: string, value: V) {
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(id, value);
}

/** The party functions bound to their dependencies (with a key cache of their own). */
export function createPartyService(deps: Omit<PartyDeps, 'keyCache' | 'kindCache'>) {
  const { db, config, clock, random, ledger } = deps;
  const d: PartyDeps = { db, config, clock, random, ledger, keyCache: new Map(), kindCache: new Map() };
  return {
    register: (p: PartyRegistration) => register(d, p),
    get: (id: string, q?: Queryable) => get(d, id, q),
    publicKey: (id: string, q?: Queryable) => publicKey(d, id, q),
    kindOf: (id: string, q?: Queryable) => kindOf(d, id, q),
    /** Locks a party's row in `tx`: its kind, key and whether it is frozen (undefined: not registered). */
    lock: async (tx: Queryable, id: string) => {
      const row = await store.lockParty(tx, id);
      return (
        row && { kind: row.kind as PartyKind, publicKey: row.public_key, frozen: row.frozen_at !== null }
      );
    },
    /** Freezes peers that spent coins twice (docs/p2p.md §5), in the caller's transaction. */
    freeze: (tx: Queryable, ids: readonly string[]) => store.freezeParties(tx, ids, clock()),
    invite: (r: InvitationRequest) => createInvitation(d, r),
    /** The names of parties by id (the wallet's grants show them). */
    names: (ids: readonly string[], q: Queryable = db) => store.partyNames(q, ids),
    /** The kinds of parties by id; ids not registered are left out. */
    kinds: (ids: readonly string[], q: Queryable = db) => store.partyKinds(q, ids),
  };
}

export type PartyService = ReturnType<typeof createPartyService>;
