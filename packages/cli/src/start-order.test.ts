/**
 * Services start in any order, as real processes (issue 18 §3): `netpay broker start --dev --bank URL` run
 * a few seconds before its bank no longer exits with "cannot reach the bank". On its first start it waits
 * for the bank (it must open its account there), saying so on stderr; on a later start it listens at once,
 * /livez 200 and /healthz 503 not_ready until the bank is back.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { seedPgliteDataDir } from '@netpay/db/testing';
import { describe, expect, it } from 'vitest';
import { firstLine, processScope } from './testing.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

const status = async (url: string) => (await fetch(url)).status;

describe('netpay broker before its bank (real processes)', () => {
  const { dir, start } = processScope('netpay-start-order-');

  it('waits for the bank on a first dev start, and is not ready until it is back on a later one', async () => {
    const bankPort = await freePort();
    const bankUrl = `http://127.0.0.1:${bankPort}`;
    seedPgliteDataDir(join(dir, 'bank'));
    seedPgliteDataDir(join(dir, 'broker'));
    const bankArgs = ['bank', 'start', '--port', String(bankPort), '--json', '--data', join(dir, 'bank')];
    const brokerArgs = ['broker', 'start', '--port', '0', '--json', '--dev', '--data', join(dir, 'broker')];

    const broker = start([...brokerArgs, '--bank', bankUrl]);
    await expect
      .poll(() => broker.stderr(), { timeout: 30_000 })
      .toMatch(/is not reachable .* trying again in/);
    expect(broker.child.exitCode).toBeNull();
    const bank = start([...bankArgs, '--exponent', '4']);
    await firstLine(bank, 60_000);
    const url = String(JSON.parse(await firstLine(broker, 90_000)).url);
    expect(await status(`${url}/healthz`)).toBe(200);

    // Both stop; the broker starts again first (its account is saved now): it listens at once.
    broker.child.kill('SIGTERM');
    expect((await broker.exit).code).toBe(0);
    bank.child.kill('SIGTERM');
    await bank.exit;
    const again = start([...brokerArgs, '--bank', bankUrl]);
    const url2 = String(JSON.parse(await firstLine(again, 60_000)).url);
    expect(await status(`${url2}/livez`)).toBe(200);
    const notReady = await fetch(`${url2}/healthz`);
    expect(notReady.status).toBe(503);
    expect((await notReady.json()).code).toBe('not_ready');
    const bank2 = start([...bankArgs, '--exponent', '4']);
    await firstLine(bank2, 60_000);
    await expect.poll(() => status(`${url2}/healthz`), { timeout: 60_000, interval: 500 }).toBe(200);
    // Each wait was a warning on stderr; stdout kept its one JSON line.
    expect(again.stderr()).toMatch(/the bank at .* is not reachable/);
    expect(again.stdout().trim().split('\n')).toHaveLength(1);
    again.child.kill('SIGTERM');
    expect((await again.exit).code).toBe(0);
    bank2.child.kill('SIGTERM');
    await bank2.exit;
  });
});
