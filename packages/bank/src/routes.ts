import { type AppOptions, createServiceApp, ErrorBodySchema, IdempotencyKeySchema } from '@netpay/service';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { BankService } from './service.ts';
import {
  AccountIdSchema,
  AccountWireSchema,
  accountToWire,
  BankInfoWireSchema,
  CreateAccountBodySchema,
  CreatedAccountWireSchema,
  createdAccountToWire,
  StatementQuerySchema,
  StatementWireSchema,
  statementToWire,
  TransferBodySchema,
  TransferIdSchema,
  TransferWireSchema,
  transferToWire,
} from './wire.ts';

export interface BankAppOptions {
  readonly service: BankService;
  readonly logger?: AppOptions['logger'];
  /** Readiness check for /healthz, e.g. a database ping. */
  readonly health?: () => Promise<void>;
}

/** `Authorization: Bearer <token>`; anything else in the header is ignored and the request is unauthorized. */
const AuthHeadersSchema = z.looseObject({
  authorization: z.string().max(1024).optional().describe('Bearer <account token>'),
});
const TransferHeadersSchema = AuthHeadersSchema.extend({
  'idempotency-key': z.string().max(1024).optional().describe('8–128 printable characters, unique per payer'),
});

function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m ? m[1] : '';
}

const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  409: ErrorBodySchema,
};

/**
 * The bank's HTTP API on a NetPay service app (OpenAPI at /docs, /healthz, /metrics). Routes only translate
 * between the wire and the service.
 */
export function buildBankApp(options: BankAppOptions) {
  const { service } = options;
  const { app, metrics } = createServiceApp({
    title: 'NetPay stand-in bank',
    description: 'Accounts and idempotent transfers; the macro-payment system the broker settles through.',
    logger: options.logger ?? false,
    ...(options.health ? { health: options.health } : {}),
  });

  // Routes go in a plugin so they register after @fastify/swagger has loaded and so appear in /docs.
  app.register(async (scope) => {
    const r = scope.withTypeProvider<ZodTypeProvider>();
    r.get(
      '/info',
      {
        schema: {
          summary: 'The currency of this bank and whether it runs in dev mode',
          response: { 200: BankInfoWireSchema },
        },
      },
      async () => {
        const { currency, dev } = service.info();
        return { currency: { code: currency.code, exponent: currency.exponent }, dev };
      },
    );

    r.post(
      '/accounts',
      {
        schema: {
          summary: 'Open an account; the answer carries its token, once',
          body: CreateAccountBodySchema,
          response: { 201: CreatedAccountWireSchema, ...errors },
        },
      },
      async (req, reply) => {
        const { name, initialBalance } = req.body;
        const account = await service.createAccount({
          name,
          initialBalance: initialBalance === undefined ? undefined : BigInt(initialBalance),
        });
        return reply.status(201).send(createdAccountToWire(account));
      },
    );

    r.get(
      '/accounts/:id',
      {
        schema: {
          summary: 'An account and its balance (its token)',
          headers: AuthHeadersSchema,
          params: z.strictObject({ id: AccountIdSchema }),
          response: { 200: AccountWireSchema, ...errors },
        },
      },
      async (req) =>
        accountToWire(await service.getAccount(bearer(req.headers.authorization), req.params.id)),
    );

    r.get(
      '/accounts/:id/statement',
      {
        schema: {
          summary: 'Statement entries, oldest first, a page at a time (its token)',
          headers: AuthHeadersSchema,
          params: z.strictObject({ id: AccountIdSchema }),
          querystring: StatementQuerySchema,
          response: { 200: StatementWireSchema, ...errors },
        },
      },
      async (req) =>
        statementToWire(
          await service.statement(bearer(req.headers.authorization), req.params.id, {
            limit: req.query.limit,
            after: req.query.after,
          }),
        ),
    );

    r.post(
      '/transfers',
      {
        schema: {
          summary: 'Move money (token of `from`); the same Idempotency-Key and body give the same answer',
          headers: TransferHeadersSchema,
          body: TransferBodySchema,
          response: { 201: TransferWireSchema, ...errors },
        },
      },
      async (req, reply) => {
        const { from, to, amount, reference } = req.body;
        const result = await service.transfer(
          bearer(req.headers.authorization),
          req.headers['idempotency-key'],
          {
            from,
            to,
            amount: BigInt(amount),
            reference,
          },
        );
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        return reply.status(201).send(transferToWire(result.transfer));
      },
    );

    r.get(
      '/transfers/:id',
      {
        schema: {
          summary: 'One transfer (token of either party)',
          headers: AuthHeadersSchema,
          params: z.strictObject({ id: TransferIdSchema }),
          response: { 200: TransferWireSchema, ...errors },
        },
      },
      async (req) =>
        transferToWire(await service.findTransfer(bearer(req.headers.authorization), { id: req.params.id })),
    );

    r.get(
      '/transfers',
      {
        schema: {
          summary:
            'The transfer made with an Idempotency-Key (token of the payer): did my timed-out transfer happen?',
          headers: AuthHeadersSchema,
          querystring: z.strictObject({ key: IdempotencyKeySchema }),
          response: { 200: TransferWireSchema, ...errors },
        },
      },
      async (req) =>
        transferToWire(await service.findTransfer(bearer(req.headers.authorization), { key: req.query.key })),
    );
  });

  return { app, metrics };
}
