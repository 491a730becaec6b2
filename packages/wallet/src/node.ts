/** Node-only parts of the wallet: the file store. */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { isNetPayError } from '@netpay/protocol';
import type { WalletState } from './state.ts';
import { parseStoredState, storageError, type WalletStorage } from './storage.ts';

export * from './index.ts';

/** The wallet folder when none is given: ~/.netpay/wallet (NETPAY_WALLET overrides). */
export function defaultWalletDir(): string {
  return process.env.NETPAY_WALLET || join(homedir(), '.netpay', 'wallet');
}

const ENCRYPTED = 'netpay-wallet-encrypted';

/** The document sealed with AES-256-GCM under a key from scrypt; as it is without a passphrase. */
function seal(text: string, passphrase: string | undefined): string {
  if (!passphrase) return text;
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = scryptSync(passphrase, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 << 20 });
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return JSON.stringify({
    format: ENCRYPTED,
    version: 1,
    kdf: { name: 'scrypt', N: 1 << 15, r: 8, p: 1, salt: salt.toString('base64url') },
    iv: iv.toString('base64url'),
    tag: cipher.getAuthTag().toString('base64url'),
    data: body.toString('base64url'),
  });
}

/** The document inside a sealed file (a plain one is returned as it is); `file` names it in errors. */
function unseal(text: string, passphrase: string | undefined, file: string): string {
  let outer: {
    format?: string;
    kdf?: { N: number; r: number; p: number; salt: string };
    iv?: string;
    tag?: string;
    data?: string;
  };
  try {
    outer = JSON.parse(text);
  } catch {
    throw storageError(`${file} is not valid JSON`);
  }
  if (outer.format !== ENCRYPTED) return text;
  if (!passphrase) throw storageError(`${file} is encrypted: give the passphrase`);
  const { kdf, iv, tag, data } = outer;
  if (!kdf || !iv || !tag || !data) throw storageError(`${file} is damaged`);
  const key = scryptSync(passphrase, Buffer.from(kdf.salt, 'base64url'), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 64 << 20,
  });
  try {
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(data, 'base64url')), d.final()]).toString('utf8');
  } catch {
    throw storageError('wrong passphrase (or the wallet file was changed)');
  }
}

/** The file's text, or undefined if there is no file yet. */
function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw storageError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Opens, writes, fsyncs and closes; the file readable by its owner only. */
function writeAndSync(path: string, text: string): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `file` by `text` atomically: a new file, fsynced, renamed over the old one, folder synced. */
function replaceDurably(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeAndSync(tmp, text);
  renameSync(tmp, file);
  // The rename itself is made durable by syncing the folder.
  const dfd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/**
 * The wallet as one file, `wallet.json` in `dir`, readable by its owner only. Each save writes a new
 * file, fsyncs it and renames it over the old one, so a crash leaves the old or the new document, never
 * half of one. With a passphrase the document is sealed with AES-256-GCM under a key from scrypt.
 */
export function fileStorage(dir: string, options: { passphrase?: string } = {}): WalletStorage {
  const file = join(dir, 'wallet.json');
  return {
    async load() {
      const text = readIfThere(file);
      if (text === undefined) return undefined;
      const inner = unseal(text, options.passphrase, file);
      try {
        return parseStoredState(JSON.parse(inner), file);
      } catch (e) {
        if (isNetPayError(e, 'wallet_storage')) throw e;
        throw storageError(`${file} is not valid JSON`);
      }
    },
    async save(state: WalletState) {
      replaceDurably(file, seal(JSON.stringify(state), options.passphrase));
    },
  };
}
