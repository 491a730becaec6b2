/**
 * Starts the demo's parts in order: the bank, the broker (with its own bank account and the music payees),
 * the two vendor sites and the web wallet whose script their pages embed.
 */
import { join } from 'node:path';
import { shopsFor, startGreetings, startMusic } from '../../demo/sites.ts';
import { demoCustomers, demoSecrets, invitation, registerPayees } from './accounts.ts';

type Closable = { close(): Promise<void> };

/**
 * Starts the bank, the broker, the two sites and the web wallet (each added to `running` as it starts, so
 * a failure closes those already up), with the demo's secrets and customers made on the first run.
 */
export async function startDemo(dir: string, firstPort: number, running: Closable[]) {
  const { startBank } = await import('@netpay/bank');
  const { createBankClient } = await import('@netpay/bank/client');
  const { startBroker } = await import('@netpay/broker');
  const { currency } = await import('@netpay/protocol');
  const port = (offset: number) => (firstPort === 0 ? 0 : firstPort + offset);
  const started = <T extends Closable>(service: T) => {
    running.push(service);
    return service;
  };

  const bank = started(
    await startBank({ port: port(0), dataDir: join(dir, 'bank'), dev: true, currency: currency('USD', 4) }),
  );
  const bankClient = createBankClient(bank.url);
  const secrets = await demoSecrets(dir, bankClient);
  const broker = started(
    await startBroker({
      port: port(100),
      dataDir: join(dir, 'broker'),
      bankUrl: bank.url,
      config: {
        brokerId: 'broker.demo',
        dev: true,
        // Dev mode for the outbox, but no open registration: a vendor needs an invitation (the two shops get one).
        registration: 'invitation',
        adminToken: secrets.adminToken,
        bank: secrets.brokerBank,
        // Settle vendors every minute in the demo, so payouts show up while you watch.
        schedule: { settlementSeconds: 60 },
      },
    }),
  );
  const services = broker.broker.services;
  await registerPayees(services, secrets.parties);

  // The two shops' pages embed the web wallet's script; its URL is known once the wallet listens.
  let walletUrl = '';
  const site = async (id: string) => ({
    ...(await invitation(services, id)),
    dataDir: join(dir, id),
    filesDir: join(dir, 'sites', id),
    brokerUrl: broker.url,
    walletUrl: () => walletUrl,
    redeemEveryMs: 30_000,
  });
  const greetings = started(await startGreetings({ port: port(201), ...(await site('e-greetings')) }));
  const music = started(await startMusic({ port: port(202), ...(await site('e-music')) }));

  // The web wallet, as the web package's build made it, served beside the sites.
  const { startWeb } = await import('@netpay/web/server');
  const web = started(
    await startWeb({
      port: port(300),
      broker: broker.url,
      shops: shopsFor(greetings, music),
    }),
  );
  walletUrl = web.url;

  const customers = await demoCustomers(dir, services, bankClient);
  const urls = {
    wallet: web.url,
    bank: bank.url,
    broker: broker.url,
    brokerDocs: `${broker.url}/docs`,
    dashboard: `${web.url}/dashboard.html`,
    operator: `${web.url}/admin.html`,
    outbox: `${broker.url}/dev/outbox`,
    greetings: greetings.url,
    music: music.url,
  };
  return { urls, secrets, secretsFile: join(dir, 'secrets.json'), customers };
}
