import { errorRegistry } from '@netpay/protocol';

/**
 * The expected failures of a peer's shared files, each with its HTTP status (docs/p2p.md §3). A new code
 * without a status fails to compile.
 */
export const FILES_ERROR_STATUS = {
  /** No shared file has this id (or its file is gone from the folder). */
  file_not_found: 404,
  /** The chunk index is not an integer in 0 … chunks − 1. */
  chunk_out_of_range: 416,
  /** The file on disk no longer has the bytes its file id names (changed while read or since hashed). */
  file_changed: 409,
  /** A file name a manifest cannot carry (empty, over 255 characters, or with a '/'). */
  file_name_invalid: 400,
  /** The folder holds more files than a peer may share; the rest are left out. */
  too_many_files: 413,
  /** A chunk asked for on a tab that is full (or of a chain this seller does not hold): pay first. */
  debt_limit: 402,
} as const satisfies Record<string, number>;

export type FilesErrorCode = keyof typeof FILES_ERROR_STATUS;

export const filesError = errorRegistry<FilesErrorCode>(FILES_ERROR_STATUS);
