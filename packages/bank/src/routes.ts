import { bankApi } from '@netpay/api';
import { type AppOptions, createServiceApp, headerValue, serve } from '@netpay/service';
import type { BankService } from './service.ts';
import { accountToWire, createdAccountToWire, statementToWire, transferToWire } from './wire.ts';

export interface BankAppOptions {
  readonly service: BankService;
  readonly logger?: AppOptions['logger'];
  /** Readiness check for /healthz, e.g. a database ping. */
  readonly health?: () => Promise<void>;
}

/** `Authorization: Bearer <token>`; anything else in the header is ignored and the request is unauthorized. */
function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m ? m[1] : '';
}

/**
 * The bank's HTTP API (the contract `bankApi` of @netpay/api) on a NetPay service app (OpenAPI at /docs,
 * /healthz, /metrics). Routes only translate between the wire and the service.
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
  app.register(async (r) => {
    const token = (req: { headers: { authorization?: string } }) => bearer(req.headers.authorization);
    serve(r, bankApi.info, async () => {
      const { currency, dev } = service.info();
      return { currency: { code: currency.code, exponent: currency.exponent }, dev };
    });
    serve(r, bankApi.createAccount, async (req, reply) => {
      const { name, initialBalance } = req.body;
      const account = await service.createAccount({
        name,
        initialBalance: initialBalance === undefined ? undefined : BigInt(initialBalance),
      });
      return reply.status(201).send(createdAccountToWire(account));
    });
    serve(r, bankApi.account, async (req) =>
      accountToWire(await service.getAccount(token(req), req.params.id)),
    );
    serve(r, bankApi.statement, async (req) =>
      statementToWire(
        await service.statement(token(req), req.params.id, {
          limit: req.query.limit,
          after: req.query.after,
        }),
      ),
    );
    serve(r, bankApi.transfer, async (req, reply) => {
      const { from, to, amount, reference } = req.body;
      const result = await service.transfer(token(req), headerValue(req.headers, 'idempotency-key'), {
        from,
        to,
        amount: BigInt(amount),
        reference,
      });
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      return reply.status(201).send(transferToWire(result.transfer));
    });
    serve(r, bankApi.getTransfer, async (req) =>
      transferToWire(await service.findTransfer(token(req), { id: req.params.id })),
    );
    serve(r, bankApi.findTransfer, async (req) =>
      transferToWire(await service.findTransfer(token(req), { key: req.query.key })),
    );
  });

  return { app, metrics };
}
