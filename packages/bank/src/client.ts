import { type BankInfoWire, bankApi, createClient } from '@netpay/api';
import { isNetPayError } from '@netpay/protocol';
import {
  type Account,
  accountFromWire,
  type CreatedAccount,
  createdAccountFromWire,
  type Statement,
  type StatementPage,
  statementFromWire,
  type Transfer,
  type TransferInput,
  transferFromWire,
} from './wire.ts';

/**
 * The bank's client: the contract's generic client (@netpay/api) with the bank's bigint domain types.
 * An error answer is a NetPayError with the bank's code and status: the outcome is known. An unreachable
 * or silent bank is a NetPayError `bank_unreachable` (status 503): the outcome is unknown, so resend
 * a transfer with the same Idempotency-Key, or ask with findTransferByKey.
 */
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

export function createBankClient(baseUrl: string, options: BankClientOptions = {}): BankClient {
  const api = createClient(bankApi, {
    url: baseUrl,
    name: 'the bank',
    unreachableCode: 'bank_unreachable',
    timeoutMs: options.timeoutMs ?? 10_000,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  return {
    baseUrl: api.url,
    info: () => api.info({}),
    createAccount: async (input) =>
      createdAccountFromWire(
        await api.createAccount({
          body: {
            name: input.name,
            ...(input.initialBalance !== undefined
              ? { initialBalance: input.initialBalance.toString() }
              : {}),
          },
        }),
      ),
    getAccount: async (token, id) => accountFromWire(await api.account({ token, params: { id } })),
    transfer: async (token, key, input) =>
      transferFromWire(
        await api.transfer({
          token,
          key,
          body: {
            from: input.from,
            to: input.to,
            amount: input.amount.toString(),
            ...(input.reference !== undefined ? { reference: input.reference } : {}),
          },
        }),
      ),
    getTransfer: async (token, id) => transferFromWire(await api.getTransfer({ token, params: { id } })),
    async findTransferByKey(token, key) {
      try {
        return transferFromWire(await api.findTransfer({ token, query: { key } }));
      } catch (e) {
        if (isNetPayError(e, 'transfer_not_found')) return undefined;
        throw e;
      }
    },
    statement: async (token, id, page = {}) =>
      statementFromWire(
        await api.statement({
          token,
          params: { id },
          query: {
            ...(page.limit !== undefined ? { limit: String(page.limit) } : {}),
            ...(page.after !== undefined ? { after: page.after } : {}),
          },
        }),
      ),
  };
}
