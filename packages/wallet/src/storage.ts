import { NetPayError } from '@netpay/protocol';
import { type WalletState, WalletStateSchema } from './state.ts';

/**
 * Where a wallet keeps its one document. `save` must be durable when it resolves: the wallet writes down
 * every payword it spends before the payment leaves, and relies on that after a crash.
 */
export interface WalletStorage {
  load(): Promise<WalletState | undefined>;
  save(state: WalletState): Promise<void>;
  /**
   * Runs `fn` while no other wallet instance over this storage runs a change; storages shared across
   * tabs or processes implement it. With it, the wallet reads the document again at the start of every
   * change, so instances never write over each other's changes (and never hand out a payword twice).
   */
  lock?<T>(fn: () => Promise<T>): Promise<T>;
}

/** A wallet document that cannot be read or written: code `wallet_storage`, the message says why. */
export const storageError = (message: string) => new NetPayError('wallet_storage', message);

/** Checks a stored document (any version this code knows) and returns it, or says what is wrong. */
export function parseStoredState(data: unknown, where: string): WalletState {
  const parsed = WalletStateSchema.safeParse(data);
  if (!parsed.success) {
    const version = (data as { format?: unknown })?.format;
    if (typeof version === 'number' && version > 1)
      throw storageError(`${where} was written by a newer wallet (format ${version}); upgrade netpay`);
    throw storageError(
      `${where} is not a NetPay wallet: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}

/**
 * For tests and throwaway wallets: nothing survives the process. Wallets opened on the same object share
 * it as two browser tabs share an IndexedDB record: each reads its own copy, and changes take turns.
 */
export function memoryStorage(): WalletStorage {
  let stored: string | undefined;
  let turn: Promise<unknown> = Promise.resolve();
  return {
    async load() {
      return stored === undefined ? undefined : parseStoredState(JSON.parse(stored), 'the memory wallet');
    },
    async save(state) {
      stored = JSON.stringify(state);
    },
    lock<T>(fn: () => Promise<T>) {
      const run = turn.then(fn);
      turn = run.catch(() => {});
      return run;
    },
  };
}

/**
 * A browser wallet: one record in an IndexedDB database (committed transactions are durable). Tabs of the
 * same origin share the record; where the Web Locks API exists they take turns changing it under the lock
 * `netpay-wallet:<name>`. Without it (old browsers) two tabs with the same wallet can overwrite each
 * other's changes: keep to one.
 */
export function indexedDbStorage(
  name = 'netpay-wallet',
  factory: IDBFactory = globalThis.indexedDB,
  locks: LockManager | undefined = globalThis.navigator?.locks,
): WalletStorage {
  if (!factory) throw storageError('this environment has no IndexedDB');
  const open = () =>
    new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('wallet');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(storageError(`cannot open IndexedDB ${name}: ${req.error?.message}`));
    });
  let db: Promise<IDBDatabase> | undefined;
  const run = async <T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>) => {
    db ??= open();
    const tx = (await db).transaction('wallet', mode, { durability: 'strict' });
    const req = fn(tx.objectStore('wallet'));
    return new Promise<T>((resolve, reject) => {
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(storageError(`IndexedDB ${name}: ${tx.error?.message}`));
      tx.onabort = () => reject(storageError(`IndexedDB ${name}: ${tx.error?.message ?? 'aborted'}`));
    });
  };
  return {
    async load() {
      const data = await run('readonly', (s) => s.get('state'));
      return data === undefined ? undefined : parseStoredState(data, `IndexedDB ${name}`);
    },
    async save(state) {
      await run('readwrite', (s) => s.put(structuredClone(state), 'state'));
    },
    ...(locks
      ? {
          lock: <T>(fn: () => Promise<T>): Promise<T> =>
            locks.request(`netpay-wallet:${name}`, { mode: 'exclusive' }, fn),
        }
      : {}),
  };
}
