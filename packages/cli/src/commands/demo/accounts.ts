/**
 * What the demo makes on its first run and keeps in its data folder (owner-only files): the broker's admin
 * token and bank account, the music payees' keys, and the demo customers with money at the bank and the
 * broker. Later runs read them back.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Services = Awaited<ReturnType<typeof import('@netpay/broker').startBroker>>['broker']['services'];
export type BankClient = ReturnType<typeof import('@netpay/bank/client').createBankClient>;

/** The demo's customers: printed with their passwords, so a newcomer can sign in at once. */
const DEMO_CUSTOMERS = [
  { login: 'alice@example.com', name: 'Alice' },
  { login: 'bob@example.com', name: 'Bob' },
] as const;
export const DEMO_PASSWORD = 'netpay demo password';

/** Secrets made on the first run and kept in the data folder (owner-only). */
export async function demoSecrets(dir: string, bankClient: BankClient) {
  const { existsSync, readFileSync } = await import('node:fs');
  const { randomBytes, toBase64url } = await import('@netpay/protocol');
  const secretsFile = join(dir, 'secrets.json');
  let secrets: {
    adminToken: string;
    brokerBank: { account: string; token: string };
    parties: Record<string, string>;
  };
  if (existsSync(secretsFile)) secrets = JSON.parse(readFileSync(secretsFile, 'utf8'));
  else {
    const account = await bankClient.createAccount({ name: 'NetPay demo broker' });
    secrets = {
      adminToken: toBase64url(randomBytes(24)),
      brokerBank: { account: account.id, token: account.token },
      parties: Object.fromEntries(
        ['demo-label', 'demo-operator'].map((id) => [id, toBase64url(randomBytes(32))]),
      ),
    };
    writeFileSync(secretsFile, JSON.stringify(secrets), { mode: 0o600 });
  }
  return secrets;
}

/** The music label and the access operator take a share of every track (multi-party payments). */
export async function registerPayees(services: Services, parties: Record<string, string>) {
  const { createSigner, toBase64url } = await import('@netpay/protocol');
  for (const [id, seed] of Object.entries(parties)) {
    const existing = await services.parties.get(id).catch(() => undefined);
    if (!existing) {
      await services.parties.register({
        id,
        kind: 'vendor',
        name: id === 'demo-label' ? 'Demo Records (label)' : 'Demo Mobile (access operator)',
        publicKey: toBase64url(createSigner(Buffer.from(seed, 'base64url')).publicKey),
        invitation: (await services.parties.invite({ kind: 'vendor', partyId: id, expiresInSeconds: 60 }))
          .token,
      });
    }
  }
}

/** Each shop registers itself over HTTP on its first start, with an invitation made for its id. */
export async function invitation(services: Services, id: string) {
  return (await services.parties.get(id).catch(() => undefined))
    ? {}
    : {
        invitation: (await services.parties.invite({ kind: 'vendor', partyId: id, expiresInSeconds: 600 }))
          .token,
      };
}

/** Demo customers on the first run: an account, a verified device, money at the bank and the broker. */
export async function demoCustomers(dir: string, services: Services, bankClient: BankClient) {
  const { existsSync, readFileSync } = await import('node:fs');
  const accountsFile = join(dir, 'demo-accounts.json');
  if (existsSync(accountsFile)) return JSON.parse(readFileSync(accountsFile, 'utf8')) as DemoCustomer[];
  const customers: DemoCustomer[] = [];
  for (const c of DEMO_CUSTOMERS) {
    const reg = await services.accounts.register({
      login: c.login,
      password: DEMO_PASSWORD,
      deviceName: 'demo',
    });
    const code = /(\d{6})/.exec((await services.accounts.outbox(c.login)).at(-1)!.body)![1]!;
    const verified = await services.accounts.verifyDevice({ deviceId: reg.deviceId, code });
    if (!verified.ok) throw new Error(`demo: could not verify ${c.login}`);
    const acct = await bankClient.createAccount({ name: c.name, initialBalance: 1_000_000n });
    await services.issuance.load(
      reg.customerId,
      { amount: 200_000n, bankAccount: acct.id, bankToken: acct.token },
      `demo-load-${c.login}`,
    );
    customers.push({
      login: c.login,
      password: DEMO_PASSWORD,
      bankAccount: acct.id,
      bankToken: acct.token,
    });
  }
  writeFileSync(accountsFile, JSON.stringify(customers, null, 2), { mode: 0o600 });
  return customers;
}

export interface DemoCustomer {
  login: string;
  password: string;
  bankAccount: string;
  bankToken: string;
}
