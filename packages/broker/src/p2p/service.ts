/**
 * The CIS (docs/p2p.md §2, §4): the broker as P2P-NetPay's central index server. Peers publish the files
 * they share and anyone searches them; a peer reads its figures and buys chains for its wallet, paid from
 * its coin account (accounts/peer.ts) and, when that is short, from its earnings, as long as its demand
 * stays within the allowance its supply earns it (fairness.ts). A frozen peer buys nothing and is left out
 * of search. Redeeming what peers were paid, and freezing a peer that spent coins twice, are redemption's.
 *
 * Plain functions over P2pDeps; createP2pService binds them. The file index's SQL is in store.ts; the
 * figures are read through redemption's store (supply) and the directory's (demand).
 */
import type { Queryable } from '@netpay/db';
import { chunkCount, toBase64url } from '@netpay/protocol';
import { peerCustomerId } from '../accounts/peer.ts';
import type { BrokerBasics } from '../context.ts';
import { keptValueOf, peerChainOwner } from '../directory/store.ts';
import { fail } from '../errors.ts';
import { type ChainOrder, orderTotal } from '../issuance/buy.ts';
import type { IssuanceService } from '../issuance/service.ts';
import { customerAccount, type Ledger, SYSTEM_ACCOUNTS, vendorAccount } from '../ledger/ledger.ts';
import type { PartyService } from '../parties/service.ts';
import { grossRedeemedBy } from '../redemption/store.ts';
import { allowance, type Figures, ratio, remaining, withinAllowance } from './fairness.ts';
import {
  fileListings,
  frozenSince,
  type ListingRow,
  replaceFiles,
  type SharedFileRow,
  searchListings,
} from './store.ts';

/** What the CIS runs on. */
export interface P2pDeps extends BrokerBasics {
  readonly ledger: Pick<Ledger, 'post' | 'balance' | 'lock'>;
  readonly parties: Pick<PartyService, 'kindOf' | 'lock' | 'get'>;
  readonly issuance: Pick<IssuanceService, 'buy'>;
}

/** A file as search and GET /p2p/files/:fileId answer it: the peers that offer it, each at its price. */
export interface Offer {
  readonly fileId: string;
  readonly name: string;
  readonly size: number;
  readonly chunkSize: number;
  readonly chunks: number;
  readonly peers: { peerId: string; url: string; price: bigint; ratio: string | null }[];
}

/** The caller must be a peer (a vendor may not use the CIS's peer endpoints). */
async function requirePeer(d: Pick<P2pDeps, 'parties'>, partyId: string, q?: Queryable): Promise<void> {
  if ((await d.parties.kindOf(partyId, q)) !== 'peer')
    throw fail('not_a_peer', `${partyId} is registered as a vendor; these endpoints are for peers`);
}

/** Each peer's supply and demand (docs/p2p.md §4), by party id. */
export async function figures(q: Queryable, partyIds: readonly string[]): Promise<Map<string, Figures>> {
  const supply = await grossRedeemedBy(q, partyIds);
  const demand = await keptValueOf(q, partyIds.map(peerCustomerId));
  return new Map(
    partyIds.map((id) => [
      id,
      { supply: supply.get(id) ?? 0n, demand: demand.get(peerCustomerId(id)) ?? 0n },
    ]),
  );
}

/** Replaces the peer's list of shared files (PUT /p2p/files), in the caller's idempotent transaction. */
export async function shareFiles(
  d: Pick<P2pDeps, 'parties'>,
  tx: Queryable,
  partyId: string,
  files: readonly SharedFileRow[],
) {
  await requirePeer(d, partyId, tx);
  await replaceFiles(
    tx,
    partyId,
    files.map((f) => ({ ...f, nameKey: f.name.toLowerCase() })),
  );
  return { files: files.length };
}

/** The search terms of a query: words, in lower case, each once. */
export const searchTerms = (q: string): string[] => [
  ...new Set(
    q
      .toLowerCase()
      .split(/\s+/)
      .filter((t) => t.length > 0),
  ),
];

/** Offers whose name contains every term, most peers first (GET /p2p/search). */
export async function search(d: Pick<P2pDeps, 'db'>, q: string, limit: number): Promise<Offer[]> {
  return offers(d.db, await searchListings(d.db, searchTerms(q), limit));
}

/** One file's offer (GET /p2p/files/:fileId), or file_not_found. */
export async function offer(d: Pick<P2pDeps, 'db'>, fileId: string): Promise<Offer> {
  const [found] = await offers(d.db, await fileListings(d.db, fileId));
  if (!found) throw fail('file_not_found', `no peer that can be reached offers the file ${fileId}`);
  return found;
}

/** The listings' files as offers, each peer with its ratio, most peers first. */
async function offers(q: Queryable, rows: readonly ListingRow[]): Promise<Offer[]> {
  const byFile = new Map<string, ListingRow[]>();
  for (const r of rows) byFile.set(r.file_id, [...(byFile.get(r.file_id) ?? []), r]);
  const ratios = await figures(q, [...new Set(rows.map((r) => r.party_id))]);
  return [...byFile.values()]
    .map((listings) => offerOf(agreeing(listings), ratios))
    .sort((a, b) => b.peers.length - a.peers.length || (a.fileId < b.fileId ? -1 : 1));
}

/**
 * The listings of one file that agree on its size and chunk size with the most others. The file id binds
 * both (docs/p2p.md §1), so a listing that differs is wrong, and the buyer would find out at the first
 * chunk; it is left out rather than shown beside the others.
 */
function agreeing(listings: readonly ListingRow[]): ListingRow[] {
  const shape = (r: ListingRow) => `${r.size}/${r.chunk_size}`;
  const count = new Map<string, number>();
  for (const r of listings) count.set(shape(r), (count.get(shape(r)) ?? 0) + 1);
  const [best] = [...count].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]!;
  return listings.filter((r) => shape(r) === best);
}

/** One file's offer from listings that agree on its shape: its most common name, its peers cheapest first. */
function offerOf(listings: readonly ListingRow[], figs: ReadonlyMap<string, Figures>): Offer {
  const first = listings[0]!;
  const names = new Map<string, number>();
  for (const r of listings) names.set(r.name, (names.get(r.name) ?? 0) + 1);
  const [name] = [...names].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]!;
  const size = Number(first.size);
  const peers = [...listings]
    .sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : a.party_id < b.party_id ? -1 : 1))
    .map((r) => ({ peerId: r.party_id, url: r.url, price: r.price, ratio: ratio(figs.get(r.party_id)!) }));
  const chunks = chunkCount(size, first.chunk_size);
  return { fileId: first.file_id, name, size, chunkSize: first.chunk_size, chunks, peers };
}

/** The peer's figures (GET /p2p/me): its coin balance, earnings, supply, demand and what it may still buy. */
export async function status(d: Pick<P2pDeps, 'db' | 'config' | 'ledger' | 'parties'>, partyId: string) {
  await requirePeer(d, partyId);
  const party = await d.parties.get(partyId);
  const f = (await figures(d.db, [partyId])).get(partyId)!;
  return {
    peerId: partyId,
    balance: await d.ledger.balance(d.db, customerAccount(peerCustomerId(partyId))),
    earnings: await d.ledger.balance(d.db, vendorAccount(partyId)),
    supply: f.supply,
    demand: f.demand,
    ratio: ratio(f),
    allowance: allowance(d.config.p2p, f),
    remaining: remaining(d.config.p2p, f),
    frozen: party.frozen,
  };
}

/**
 * Buys chains for the peer's wallet (POST /p2p/chains), in the caller's idempotent transaction: the peer's
 * row is locked (its purchases one at a time, so the fairness check holds), a frozen peer is refused, the
 * purchase must stay within the allowance, earnings cover what the coin account is short, then issuance
 * buys the chains for the coin account. Locks go party row first, then every ledger account the purchase
 * posts to at once, in the ledger's order: a redemption that freezes the peer locks in that order too, so
 * neither waits for the other in a circle.
 */
export async function buy(
  d: P2pDeps,
  tx: Queryable,
  partyId: string,
  orders: readonly ChainOrder[],
  buyId: string,
) {
  const peer = await d.parties.lock(tx, partyId);
  if (peer?.kind !== 'peer')
    throw fail('not_a_peer', `${partyId} is registered as a vendor; these endpoints are for peers`);
  if (peer.frozen)
    throw fail('peer_frozen', `${partyId} was frozen for spending coins twice and may buy no more`);
  const total = orderTotal(d.config, orders);
  const coins = customerAccount(peerCustomerId(partyId));
  await d.ledger.lock(tx, [SYSTEM_ACCOUNTS.coins, coins, vendorAccount(partyId)]);
  const f = (await figures(tx, [partyId])).get(partyId)!;
  if (!withinAllowance(d.config.p2p, f, total)) {
    const left = remaining(d.config.p2p, f);
    throw fail(
      'fairness_limit',
      `buying ${total} is past your allowance: ${left} remains (supply ${f.supply}, demand ${f.demand}); supply more to buy more`,
      {
        remaining: left.toString(),
        allowance: allowance(d.config.p2p, f).toString(),
        demand: f.demand.toString(),
      },
    );
  }
  await coverFromEarnings(d, tx, partyId, total, `${buyId}:earnings`);
  const owner = { id: partyId, publicKey: peer.publicKey };
  const bought = await d.issuance.buy(tx, peerCustomerId(partyId), orders, buyId, owner);
  return { chains: bought.chains.map((c) => ({ chainId: c.chainId, touchstone: c.touchstone })) };
}

/** Moves from the peer's earnings to its coin account what that account is short of `total` (and minBalance). */
async function coverFromEarnings(
  d: Pick<P2pDeps, 'config' | 'ledger'>,
  tx: Queryable,
  partyId: string,
  total: bigint,
  transferId: string,
) {
  const coins = customerAccount(peerCustomerId(partyId));
  const balance = await d.ledger.balance(tx, coins);
  const short = total + d.config.limits.minBalance - balance;
  if (short <= 0n) return;
  const earnings = await d.ledger.balance(tx, vendorAccount(partyId));
  if (earnings < short)
    throw fail(
      'insufficient_funds',
      `balance ${balance} and earnings ${earnings} do not cover ${total}${d.config.limits.minBalance > 0n ? ` while keeping ${d.config.limits.minBalance}` : ''}`,
    );
  await d.ledger.post(tx, [
    {
      id: transferId,
      debit: vendorAccount(partyId),
      credit: coins,
      amount: short,
      kind: 'p2p_earnings_spent',
      ref: partyId,
    },
  ]);
}

/** The CIS as one object (what the routes and tests call): the functions above, bound to their deps. */
/**
 * Who owns a P2P chain (docs/p2p.md §3): the peer that bought it, its key and whether it is frozen. A
 * seller checks the payer's index against it, so an index signed by anyone but the owner is refused before
 * any chunk is sold on it. Chains bought by customers are not P2P chains: `chain_not_found`.
 */
export async function owner(d: Pick<P2pDeps, 'db'>, chainId: string) {
  const row = await peerChainOwner(d.db, chainId);
  if (!row) throw fail('chain_not_found', `no chain ${chainId} was bought by a peer here`);
  return { chainId, owner: row.id, publicKey: toBase64url(row.public_key), frozen: row.frozen_at !== null };
}

/**
 * The peers frozen at or after `since` (Unix ms), oldest first, 1,000 at most (`more` when there are
 * others): sellers keep the list and refuse those peers' coins without asking the CIS per chain
 * (docs/p2p.md §3). One redemption batch freezes at most a few hundred peers at one instant, so a page
 * never ends inside a run of equal `frozenAt` that the next page (from that `frozenAt`) would not repeat.
 */
export async function frozen(d: Pick<P2pDeps, 'db'>, since: bigint) {
  const rows = await frozenSince(d.db, since, FROZEN_PAGE + 1);
  return {
    peers: rows.slice(0, FROZEN_PAGE).map((r) => ({ peerId: r.id, frozenAt: r.frozen_at.toString() })),
    more: rows.length > FROZEN_PAGE,
  };
}
const FROZEN_PAGE = 1000;

export function createP2pService(d: P2pDeps) {
  return {
    shareFiles: (tx: Queryable, partyId: string, files: readonly SharedFileRow[]) =>
      shareFiles(d, tx, partyId, files),
    search: (q: string, limit: number) => search(d, q, limit),
    offer: (fileId: string) => offer(d, fileId),
    owner: (chainId: string) => owner(d, chainId),
    frozen: (since: bigint) => frozen(d, since),
    status: (partyId: string) => status(d, partyId),
    buy: (tx: Queryable, partyId: string, orders: readonly ChainOrder[], buyId: string) =>
      buy(d, tx, partyId, orders, buyId),
  };
}

export type P2pService = ReturnType<typeof createP2pService>;
