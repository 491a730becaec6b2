import { type WalletState, WalletStateSchema } from './state.ts';

/**
 * Where a wallet keeps its one document. `save` must be durable when it resolves: the wallet writes down
 * every payword it spends before the payment leaves, and relies on that after a crash.
 */
export interface WalletStorage {
  load(): Promise<WalletState | undefined>;
  save(state: WalletState): Promise<void>;
}

export class WalletStorageError extends Error {
  override readonly name = 'WalletStorageError';
}

/** Checks a stored document (any version this code knows) and returns it, or says what is wrong. */
export function parseStoredState(data: unknown, where: string): WalletState {
  const parsed = WalletStateSchema.safeParse(data);
  if (!parsed.success) {
    const version = (data as { format?: unknown })?.format;
    if (typeof version === 'number' && version > 1)
      throw new WalletStorageError(
        `${where} was written by a newer wallet (format ${version}); upgrade netpay`,
      );
    throw new WalletStorageError(
      `${where} is not a NetPay wallet: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}

/** For tests and throwaway wallets: nothing survives the process. */
export function memoryStorage(): WalletStorage {
  let stored: string | undefined;
  return {
    async load() {
      return stored === undefined ? undefined : parseStoredState(JSON.parse(stored), 'the memory wallet');
    },
    async save(state) {
      stored = JSON.stringify(state);
    },
  };
}

/** A browser wallet: one record in an IndexedDB database (committed transactions are durable). */
export function indexedDbStorage(
  name = 'netpay-wallet',
  factory: IDBFactory = globalThis.indexedDB,
): WalletStorage {
  if (!factory) throw new WalletStorageError('this environment has no IndexedDB');
  const open = () =>
    new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('wallet');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () =>
        reject(new WalletStorageError(`cannot open IndexedDB ${name}: ${req.error?.message}`));
    });
  let db: Promise<IDBDatabase> | undefined;
  const run = async <T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>) => {
    db ??= open();
    const tx = (await db).transaction('wallet', mode, { durability: 'strict' });
    const req = fn(tx.objectStore('wallet'));
    return new Promise<T>((resolve, reject) => {
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(new WalletStorageError(`IndexedDB ${name}: ${tx.error?.message}`));
      tx.onabort = () =>
        reject(new WalletStorageError(`IndexedDB ${name}: ${tx.error?.message ?? 'aborted'}`));
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
  };
}
