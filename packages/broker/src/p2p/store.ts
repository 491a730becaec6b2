/**
 * The SQL of the CIS's file index: the p2p_files table (migration 20261210_0200), each peer's list of
 * shared files. Nothing else in the broker touches it. The searches read the parties table in the same
 * statement, to leave out frozen peers and peers without a URL before files are counted and ranked.
 */
import type { Queryable } from '@netpay/db';

/** One file a peer shares, as it publishes it. */
export interface SharedFileRow {
  readonly fileId: string;
  readonly name: string;
  readonly size: number;
  readonly chunkSize: number;
  /** Per chunk, minor units. */
  readonly price: bigint;
}

/** One listing of a file by a peer that can be reached and is not frozen. */
export interface ListingRow {
  file_id: string;
  name: string;
  size: bigint;
  chunk_size: number;
  price: bigint;
  party_id: string;
  url: string;
}

/** Replaces the peer's shared files with `files` (name_key: the name in lower case, for search). */
export async function replaceFiles(
  q: Queryable,
  partyId: string,
  files: readonly (SharedFileRow & { nameKey: string })[],
): Promise<void> {
  await q.query('DELETE FROM p2p_files WHERE party_id = $1', [partyId]);
  if (files.length === 0) return;
  await q.query(
    `INSERT INTO p2p_files (party_id, file_id, name, name_key, size, chunk_size, price)
       SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int8[], $6::int4[], $7::int8[])`,
    [
      partyId,
      files.map((f) => f.fileId),
      files.map((f) => f.name),
      files.map((f) => f.nameKey),
      files.map((f) => f.size.toString()),
      files.map((f) => f.chunkSize),
      files.map((f) => f.price.toString()),
    ],
  );
}

/** The listings by reachable, unfrozen peers, of the `limit` files with the most such peers whose name has every term. */
export async function searchListings(
  q: Queryable,
  terms: readonly string[],
  limit: number,
): Promise<ListingRow[]> {
  return q.query<ListingRow>(
    `WITH listed AS (
       SELECT f.file_id, f.name, f.size, f.chunk_size, f.price, f.party_id, p.url
         FROM p2p_files f JOIN parties p ON p.id = f.party_id
        WHERE p.frozen_at IS NULL AND p.url IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM unnest($1::text[]) AS t(term) WHERE strpos(f.name_key, t.term) = 0)
     ), top AS (
       SELECT file_id, count(*) AS peers FROM listed GROUP BY file_id ORDER BY peers DESC, file_id LIMIT $2
     )
     SELECT l.* FROM listed l JOIN top USING (file_id) ORDER BY top.peers DESC, l.file_id, l.party_id`,
    [terms, limit],
  );
}

/** Peers frozen at or after `since` (Unix ms), oldest first, at most `limit`. */
export async function frozenSince(q: Queryable, since: bigint, limit: number) {
  return q.query<{ id: string; frozen_at: bigint }>(
    `SELECT id, frozen_at FROM parties WHERE kind = 'peer' AND frozen_at >= $1 ORDER BY frozen_at, id LIMIT $2`,
    [since, limit],
  );
}

/** The listings of one file by reachable, unfrozen peers. */
export async function fileListings(q: Queryable, fileId: string): Promise<ListingRow[]> {
  return q.query<ListingRow>(
    `SELECT f.file_id, f.name, f.size, f.chunk_size, f.price, f.party_id, p.url
       FROM p2p_files f JOIN parties p ON p.id = f.party_id
      WHERE f.file_id = $1 AND p.frozen_at IS NULL AND p.url IS NOT NULL
      ORDER BY f.party_id`,
    [fileId],
  );
}
