import type { z } from 'zod';
import {
  type Account,
  AccountWireSchema,
  accountFromWire,
  type BankInfoWire,
  BankInfoWireSchema,
  type CreatedAccount,
  CreatedAccountWireSchema,
  createdAccountFromWire,
  type Statement,
  type StatementPage,
  StatementWireSchema,
  statementFromWire,
  type Transfer,
  type TransferInput,
  TransferWireSchema,
  transferFromWire,
} from './wire.ts';

/** The bank answered with an error: `{ code, message }` and an HTTP status. The outcome is known. */
export class BankError extends Error {
  override readonly name = 'BankError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/**
 * The bank could not be reached or did not answer in time. The outcome is unknown: a transfer may or may
 * not have happened. Resend it with the same Idempotency-Key, or ask with findTransferByKey.
 */
export class BankNetworkError extends Error {
  override readonly name = 'BankNetworkError';
  constructor(
    readonly reason: 'timeout' | 'network',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface BankClientOptions {
  /** Per-request time limit (connect, send, answer). Default 10 s. */
  readonly timeoutMs?: number;
  /** Replaces the global fetch (tests, proxies). */
  readonly fetch?: typeof fetch;
}

export interface BankClient {
  readonly baseUrl: string;
  info(): Promise<BankInfoWire>;
  createAccount(input: { name: string; initialBalance?: bigint }): Promise<CreatedAccount>;
  getAccount(token: string, accountId: string): Promise<Account>;
  /** Idempotent per (payer, key): resend with the same key after any failure whose outcome is unknown. */
  transfer(token: string, key: string, input: TransferInput): Promise<Transfer>;
  getTransfer(token: string, transferId: string): Promise<Transfer>;
  /** The transfer the payer made with this idempotency key, or undefined when there is none (yet). */
  findTransferByKey(token: string, key: string): Promise<Transfer | undefined>;
  statement(token: string, accountId: string, page?: StatementPage): Promise<Statement>;
}

const DEFAULT_TIMEOUT_MS = 10_000;

interface Call<S extends z.ZodType> {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly schema: S;
  readonly token?: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

function errorFromBody(status: number, text: string): BankError {
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown; details?: unknown };
    if (typeof body.code === 'string' && typeof body.message === 'string') {
      const details =
        body.details && typeof body.details === 'object'
          ? (body.details as Record<string, unknown>)
          : undefined;
      return new BankError(status, body.code, body.message, details);
    }
  } catch {
    // not JSON: fall through
  }
  return new BankError(status, 'http_error', `bank answered HTTP ${status}: ${text.slice(0, 200)}`);
}

/** A typed client for the bank's HTTP API. Throws BankError for answers ≥ 400, BankNetworkError otherwise. */
export function createBankClient(baseUrl: string, options: BankClientOptions = {}): BankClient {
  const root = baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const doFetch = options.fetch ?? fetch;

  async function call<S extends z.ZodType>(c: Call<S>): Promise<z.infer<S>> {
    const headers: Record<string, string> = { accept: 'application/json', ...c.headers };
    if (c.token !== undefined) headers.authorization = `Bearer ${c.token}`;
    if (c.body !== undefined) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    try {
      const res = await doFetch(root + c.path, {
        method: c.method,
        headers,
        ...(c.body !== undefined ? { body: JSON.stringify(c.body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (e) {
      const name = (e as { name?: string }).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new BankNetworkError(
          'timeout',
          `bank did not answer ${c.method} ${c.path} within ${timeoutMs} ms`,
          {
            cause: e,
          },
        );
      }
      throw new BankNetworkError('network', `cannot reach the bank at ${root}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (status >= 400) throw errorFromBody(status, text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new BankError(
        status,
        'invalid_response',
        `bank answered ${c.method} ${c.path} with something not JSON`,
      );
    }
    const parsed = c.schema.safeParse(json);
    if (!parsed.success) {
      throw new BankError(
        status,
        'invalid_response',
        `bank answer to ${c.method} ${c.path} does not match its schema`,
      );
    }
    return parsed.data;
  }

  const seg = encodeURIComponent;

  return {
    baseUrl: root,
    info: () => call({ method: 'GET', path: '/info', schema: BankInfoWireSchema }),
    async createAccount(input) {
      const body = {
        name: input.name,
        ...(input.initialBalance !== undefined ? { initialBalance: input.initialBalance.toString() } : {}),
      };
      return createdAccountFromWire(
        await call({ method: 'POST', path: '/accounts', schema: CreatedAccountWireSchema, body }),
      );
    },
    async getAccount(token, accountId) {
      return accountFromWire(
        await call({ method: 'GET', path: `/accounts/${seg(accountId)}`, token, schema: AccountWireSchema }),
      );
    },
    async transfer(token, key, input) {
      const body = {
        from: input.from,
        to: input.to,
        amount: input.amount.toString(),
        ...(input.reference !== undefined ? { reference: input.reference } : {}),
      };
      const headers = { 'idempotency-key': key };
      return transferFromWire(
        await call({ method: 'POST', path: '/transfers', token, headers, body, schema: TransferWireSchema }),
      );
    },
    async getTransfer(token, transferId) {
      return transferFromWire(
        await call({
          method: 'GET',
          path: `/transfers/${seg(transferId)}`,
          token,
          schema: TransferWireSchema,
        }),
      );
    },
    async findTransferByKey(token, key) {
      try {
        return transferFromWire(
          await call({
            method: 'GET',
            path: `/transfers?key=${seg(key)}`,
            token,
            schema: TransferWireSchema,
          }),
        );
      } catch (e) {
        if (e instanceof BankError && e.code === 'transfer_not_found') return undefined;
        throw e;
      }
    },
    async statement(token, accountId, page = {}) {
      const query = new URLSearchParams();
      if (page.limit !== undefined) query.set('limit', String(page.limit));
      if (page.after !== undefined) query.set('after', page.after);
      const qs = query.size > 0 ? `?${query}` : '';
      return statementFromWire(
        await call({
          method: 'GET',
          path: `/accounts/${seg(accountId)}/statement${qs}`,
          token,
          schema: StatementWireSchema,
        }),
      );
    },
  };
}
