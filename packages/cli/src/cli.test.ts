import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createBankClient } from '@netpay/bank/client';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createProgram } from './program.ts';
import { ENV, firstLine, processScope, STACK_FRAME } from './testing.ts';

describe('netpay bank start (a real process)', () => {
  const { dir, start } = processScope('netpay-cli-');

  it('starts, prints one JSON line, serves the bank, and exits 0 on SIGTERM', async () => {
    const run = start(['bank', 'start', '--port', '0', '--json', '--data', join(dir, 'bank')]);
    const info = JSON.parse(await firstLine(run)) as Record<string, unknown>;
    expect(info).toMatchObject({
      database: 'pglite',
      dataDir: join(dir, 'bank'),
      currency: { code: 'USD', exponent: 2 },
      dev: true,
    });
    const url = String(info.url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    const bank = createBankClient(url);
    const account = await bank.createAccount({ name: 'CLI test', initialBalance: 250n });
    expect((await bank.getAccount(account.token, account.id)).balance).toBe(250n);

    run.child.kill('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
    expect(run.stdout().trim().split('\n')).toHaveLength(1);
  });

  it('explains a port that is taken, without a stack trace', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as { port: number };
    try {
      const run = start(['bank', 'start', '--port', String(port), '--data', join(dir, 'bank')]);
      expect((await run.exit).code).toBe(1);
      expect(run.stderr()).toContain(`127.0.0.1:${port} is already in use`);
      expect(run.stderr()).not.toMatch(STACK_FRAME);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('rejects bad flags and a bad DATABASE_URL with a clear message and a non-zero exit', async () => {
    const cases: { args: string[]; env?: NodeJS.ProcessEnv; message: string }[] = [
      { args: ['bank', 'start', '--port', 'abc'], message: 'must be a port number' },
      { args: ['bank', 'start', '--port', '70000'], message: 'must be a port number' },
      { args: ['bank', 'start', '--currency', 'dollars'], message: 'uppercase' },
      { args: ['bank', 'start', '--bogus'], message: "unknown option '--bogus'" },
      { args: ['bank', 'stop'], message: "unknown command 'stop'" },
      {
        args: ['bank', 'start', '--port', '0'],
        env: { ...ENV, DATABASE_URL: 'mysql://nope' },
        message: 'DATABASE_URL must be a postgres',
      },
    ];
    await Promise.all(
      cases.map(async (c) => {
        const run = start(c.args, c.env);
        const { code } = await run.exit;
        expect(code, c.args.join(' ')).not.toBe(0);
        expect(run.stderr(), c.args.join(' ')).toContain(c.message);
        expect(run.stderr()).not.toMatch(STACK_FRAME);
      }),
    );
  });

  it('prints the help of every command and subcommand (defaults included)', () => {
    const walk = (c: Command): Command[] => [c, ...c.commands.flatMap(walk)];
    const all = walk(createProgram({ out: () => {}, err: () => {} }));
    expect(all.map((c) => c.name())).toContain('peer');
    for (const c of all) expect(() => c.helpInformation(), c.name()).not.toThrow();
  });

  it('documents every command with an example', async () => {
    for (const args of [['--help'], ['bank', '--help'], ['bank', 'start', '--help']]) {
      const run = start(args);
      expect((await run.exit).code).toBe(0);
      expect(run.stdout(), args.join(' ')).toMatch(/Examples?:\n\s+\$ netpay /);
    }
  });
});
