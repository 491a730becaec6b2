/** `netpay broker invite`: POST /admin/invitations on the running broker (docs/broker.md §6.4). */
import { z } from 'zod';
import { cliError } from '../../errors.ts';

export interface InviteFlags {
  broker: string;
  kind: 'vendor' | 'peer';
  id?: string;
  expires: number;
  json?: boolean;
}

export const KindArg = z.enum(['vendor', 'peer'], 'must be vendor or peer');
export const PartyIdArg = z
  .string()
  .regex(/^[\x21-\x7e]{1,128}$/, 'must be 1–128 printable ASCII characters');
export const ExpiresArg = z
  .string()
  .regex(/^\d{2,7}$/, 'must be a whole number of seconds')
  .transform(Number)
  .pipe(
    z
      .number()
      .min(60)
      .max(90 * 86_400, 'must be 60 s to 90 days (7776000 seconds)'),
  );

export async function invite(flags: InviteFlags): Promise<void> {
  const token = process.env.NETPAY_ADMIN_TOKEN?.trim();
  if (!token) throw cliError("set NETPAY_ADMIN_TOKEN to the broker's admin token");
  const { brokerApi, createClient, unanswered } = await import('@netpay/api');
  const broker = createClient(brokerApi, { url: flags.broker, name: 'the broker', token: () => token });
  const answer = await broker
    .invite({
      body: { kind: flags.kind, expiresInSeconds: flags.expires, ...(flags.id ? { partyId: flags.id } : {}) },
    })
    .catch((e: Error) => {
      throw cliError(unanswered(e) ? e.message : `the broker refused: ${e.message}`);
    });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(answer)}\n`);
    return;
  }
  const who = answer.partyId ? `the ${flags.kind} ${answer.partyId}` : `one ${flags.kind} (any id)`;
  process.stdout.write(
    `Invitation for ${who}, usable once until ${answer.expiresAt}:\n  ${answer.token}\n` +
      `Start the vendor with: netpay vendor start … --invite ${answer.token}\n`,
  );
}
