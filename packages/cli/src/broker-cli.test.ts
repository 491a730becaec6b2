import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBankClient } from '@netpay/bank/client';
import { describe, expect, it } from 'vitest';
import { ENV, firstLine, processScope, STACK_FRAME } from './testing.ts';

describe('netpay broker (real processes)', () => {
  const { dir, start, bank: startBank } = processScope('netpay-broker-cli-');

  it('starts beside a bank, serves customers, then audits and settles offline', async () => {
    const { run: bankRun, url: bankUrl } = await startBank();
    const bank = createBankClient(bankUrl);
    const own = await bank.createAccount({ name: 'broker' });
    const configFile = join(dir, 'broker.json');
    writeFileSync(
      configFile,
      JSON.stringify({ brokerId: 'cli.broker', bank: { account: own.id, token: own.token } }),
    );

    const env = { ...ENV, NETPAY_ADMIN_TOKEN: 'cli-admin-token-0123456789' };
    const args = ['--data', join(dir, 'broker'), '--config', configFile, '--bank', bankUrl];
    const brokerRun = start(['broker', 'start', '--port', '0', '--json', '--dev', ...args], env);
    const info = JSON.parse(await firstLine(brokerRun));
    expect(info).toMatchObject({ database: 'pglite', brokerId: 'cli.broker' });
    const url = String(info.url);
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await (await fetch(`${url}/config`)).json()).brokerId).toBe('cli.broker');
    const reg = await fetch(`${url}/customers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'cli-test-register-1' },
      body: JSON.stringify({ login: 'cli@example.com', password: 'correct horse battery' }),
    });
    expect(reg.status).toBe(201);
    const audit = await fetch(`${url}/admin/audit`, {
      headers: { authorization: 'Bearer cli-admin-token-0123456789' },
    });
    expect((await audit.json()).ok).toBe(true);
    brokerRun.child.kill('SIGTERM');
    expect((await brokerRun.exit).code).toBe(0);

    const auditRun = start(['broker', 'audit', '--json', ...args], env);
    const report = JSON.parse(await firstLine(auditRun));
    expect(report).toMatchObject({ ok: true, sumOfBalances: '0' });
    expect((await auditRun.exit).code).toBe(0);

    const settleRun = start(['broker', 'settle', '--json', ...args], env);
    expect(JSON.parse(await firstLine(settleRun))).toMatchObject({ created: 0, sent: 0 });
    expect((await settleRun.exit).code).toBe(0);
    bankRun.child.kill('SIGTERM');
    await bankRun.exit;
  });

  it('explains a bad config file in one line', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ feeBasisPoints: 20_000 }));
    const run = start(['broker', 'start', '--port', '0', '--data', join(dir, 'b2'), '--config', bad]);
    const { code } = await run.exit;
    expect(code).not.toBe(0);
    expect(run.stderr()).toMatch(/feeBasisPoints/);
    expect(run.stderr()).not.toMatch(STACK_FRAME);
    const missing = start(['broker', 'audit', '--config', join(dir, 'missing.json')]);
    expect((await missing.exit).code).not.toBe(0);
    expect(missing.stderr()).toMatch(/cannot read the config file/);
  });
});
