/** What wallet tests (and the x402 tests) share: a new customer's wallet, signed in and funded. */
import { randomBytes, toBase64url } from '@netpay/protocol';
import type { World } from '../../broker/test/world.ts';
import { type ChainOrder, memoryStorage, openWallet, type Wallet, type WalletStorage } from '../src/index.ts';

/**
 * A new customer's wallet over `storage` (default in memory): registered, device verified, `load` minor
 * units loaded from a bank account of its own, then `chains` bought (none if empty).
 */
export async function fundedWallet(
  w: World,
  prefix: string,
  load: bigint,
  chains: readonly ChainOrder[] = [],
  storage: WalletStorage = memoryStorage(),
): Promise<Wallet> {
  const wallet = await openWallet({ storage, brokerUrl: w.url });
  const login = `${prefix}-${toBase64url(randomBytes(4)).toLowerCase()}@example.com`;
  await wallet.register({ login, password: 'correct horse battery' });
  await wallet.verify(await w.latestCode(login));
  const bank = await w.bankClient.createAccount({ name: login, initialBalance: 1_000_000n });
  await wallet.load(load, { account: bank.id, token: bank.token });
  if (chains.length > 0) await wallet.buy(chains);
  return wallet;
}
