/** `netpay wallet register | verify | login`: the customer's account at the broker, and the password prompt. */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import pc from 'picocolors';
import { z } from 'zod';
import { cliError } from '../../errors.ts';
import { zodArg } from '../../options.ts';
import { type CommonFlags, common, EXAMPLES, withWallet } from './session.ts';

const CodeArg = z.string().regex(/^\d{6}$/, 'the code is 6 digits');

export function registerCommand(wallet: Command): void {
  common(wallet.command('register').description('open an account at the broker; a code is sent to the login'))
    .requiredOption('--login <login>', 'e-mail address or phone number (+…)')
    .addHelpText(
      'after',
      `\nExample:\n  $ netpay wallet register --login me@example.com --broker http://127.0.0.1:4200\n${EXAMPLES}`,
    )
    .action((f: CommonFlags & { login: string }) =>
      withWallet(f, async (w, out) => {
        const r = await w.register({ login: f.login, password: await password() });
        out(
          { customerId: r.customerId, codeSentTo: r.codeSentTo },
          `Registered ${pc.bold(f.login)}. A 6-digit code was sent there: ${pc.cyan('netpay wallet verify <code>')}`,
        );
      }),
    );
}

export function verifyCommand(wallet: Command): void {
  common(wallet.command('verify').description('enter the code sent at register or sign-in on a new device'))
    .argument('<code>', 'the 6-digit code', zodArg(CodeArg))
    .addHelpText('after', '\nExample:\n  $ netpay wallet verify 123456')
    .action((code: string, f: CommonFlags) =>
      withWallet(f, async (w, out) => {
        const r = await w.verify(code);
        out({ customerId: r.customerId, signedIn: true }, `${pc.green('Verified.')} You are signed in.`);
      }),
    );
}

export function loginCommand(wallet: Command): void {
  common(wallet.command('login').description('sign in (a new device also needs `verify`)'))
    .requiredOption('--login <login>', 'e-mail address or phone number')
    .option('--totp <code>', 'authenticator code, if you set one up', zodArg(CodeArg))
    .addHelpText('after', `\nExample:\n  $ netpay wallet login --login me@example.com\n${EXAMPLES}`)
    .action((f: CommonFlags & { login: string; totp?: string }) =>
      withWallet(f, async (w, out) => {
        const r = await w.login({
          login: f.login,
          password: await password(),
          ...(f.totp ? { totp: f.totp } : {}),
        });
        out(
          { signedIn: !r.verificationRequired, verificationRequired: r.verificationRequired },
          r.verificationRequired
            ? `New device: a code was sent to ${f.login}; run ${pc.cyan('netpay wallet verify <code>')}`
            : `${pc.green('Signed in')} as ${f.login}.`,
        );
      }),
    );
}

/** Reads the password from NETPAY_PASSWORD, or asks for it without echo on a terminal. */
async function password(): Promise<string> {
  const env = process.env.NETPAY_PASSWORD;
  if (env) return env;
  if (!process.stdin.isTTY) throw cliError('set NETPAY_PASSWORD (no terminal to ask on)');
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  const answer = new Promise<string>((resolve) => rl.question('Password: ', resolve));
  muted = true;
  const text = await answer;
  rl.close();
  process.stderr.write('\n');
  return text;
}
