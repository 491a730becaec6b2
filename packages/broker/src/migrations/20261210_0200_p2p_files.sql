-- P2P (docs/p2p.md §2): the CIS's index of shared files.
-- Each peer's list of shared files, replaced as a whole by PUT /p2p/files. A file is named by its id
-- (the Merkle root of docs/p2p.md §1); price is per chunk, minor units. Search matches terms in
-- name_key, the name in lower case as JavaScript makes it (so it matches the same on every database).
CREATE TABLE p2p_files (
  party_id text NOT NULL REFERENCES parties (id),
  file_id text NOT NULL,
  name text NOT NULL,
  name_key text NOT NULL,
  size bigint NOT NULL CHECK (size >= 0),
  chunk_size integer NOT NULL CHECK (chunk_size > 0),
  price bigint NOT NULL CHECK (price >= 0),
  PRIMARY KEY (party_id, file_id)
);
CREATE INDEX p2p_files_file ON p2p_files (file_id);
