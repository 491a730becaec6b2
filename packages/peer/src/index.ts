/** A P2P-NetPay peer (docs/p2p.md): the files it shares, serving them for coins, and downloading with its wallet. */

export * from './cis.ts';
export * from './files/errors.ts';
export * from './files/hash-file.ts';
export * from './files/shared-folder.ts';
export * from './get/download.ts';
export * from './get/progress-file.ts';
export * from './get.ts';
export * from './peer.ts';
export * from './serve/routes.ts';
export * from './wallet/peer-wallet.ts';
export * from './web/routes.ts';
export * from './web/view.ts';
