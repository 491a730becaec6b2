/** A P2P-NetPay peer (docs/p2p.md): the files it shares, hashed and watched. */
export * from './files/errors.ts';
export * from './files/hash-file.ts';
export * from './files/shared-folder.ts';
