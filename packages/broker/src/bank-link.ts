/**
 * The broker's link to its bank at start-up and after: the bank is ready once it has been reached and
 * counts in the broker's currency and exponent (amounts cross as they are, in minor units). Until then
 * /healthz answers 503 `not_ready`, and every bank movement first asks the bank once more, then answers
 * 503 `bank_unavailable` (docs/broker.md §2.1, §3). Services may start in any order: a bank that is not
 * listening yet is waited for with back-off, each wait logged.
 */
import { unavailable } from '@netpay/api';
import { type BankClient, createBankClient } from '@netpay/bank/client';
import { reasonOf, withBackoff } from '@netpay/service';
import { type Bank, bankUnavailable } from './bank.ts';

type Currency = { readonly code: string; readonly exponent: number };

export interface BankLink {
  /** Undefined when ready; else what is missing, for /healthz. */
  notReady(): string | undefined;
  /** Asks the bank once: true when ready. Throws the currency mismatch. */
  check(): Promise<boolean>;
  /** Asks until the bank answers, with back-off; stops on `signal`. A mismatch is logged and kept. */
  waitUntilReady(signal: AbortSignal): Promise<void>;
  /** The bank adapter, refusing movements (bank_unavailable) while the link is not ready. */
  gate(bank: Bank): Bank;
}

export function createBankLink(o: {
  url: string;
  currency: Currency;
  log: {
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
    info(obj: object, msg: string): void;
  };
  client?: BankClient;
}): BankLink {
  const client = o.client ?? createBankClient(o.url, { timeoutMs: 5_000 });
  let missing: string | undefined = `the bank at ${o.url} has not been reached yet`;
  let mismatch: Error | undefined;

  async function ask(): Promise<void> {
    const info = await client.info();
    const ours = o.currency;
    if (info.currency.code !== ours.code || info.currency.exponent !== ours.exponent) {
      mismatch = new Error(
        `broker config: currency ${ours.code} with ${ours.exponent} decimals differs from the bank's ` +
          `${info.currency.code} with ${info.currency.exponent}; start the bank with --exponent ${ours.exponent} or set currency in the config`,
      );
      missing = mismatch.message;
      throw mismatch;
    }
    missing = undefined;
  }

  async function check(): Promise<boolean> {
    if (mismatch) throw mismatch;
    try {
      await ask();
      return true;
    } catch (e) {
      if (e === mismatch) throw e;
      missing = `the bank at ${o.url} is not reachable: ${reasonOf(e)}`;
      return false;
    }
  }

  return {
    notReady: () => missing,
    check,
    async waitUntilReady(signal) {
      try {
        await withBackoff(ask, {
          what: `the bank at ${o.url}`,
          transient: (e) => e !== mismatch && unavailable(e), // no answer, or a 5xx while the bank starts
          log: (message, details) => o.log.warn({ bank: o.url, ...details }, message),
          signal,
        });
        o.log.info({ bank: o.url }, `the bank at ${o.url} is reachable`);
      } catch (e) {
        if (signal.aborted) return;
        if (e !== mismatch) missing = `the bank at ${o.url} refused: ${reasonOf(e)}`;
        o.log.error(
          { bank: o.url, err: e },
          'the bank cannot be used: bank movements answer bank_unavailable',
        );
      }
    },
    gate(bank) {
      const ready = async () => {
        if (missing === undefined) return;
        const ok = mismatch ? false : await check().catch(() => false);
        if (!ok) throw bankUnavailable(missing ?? 'the bank is not ready');
      };
      return {
        async transfer(req) {
          await ready();
          return bank.transfer(req);
        },
        async findTransfer(key, token) {
          await ready();
          return bank.findTransfer(key, token);
        },
      };
    },
  };
}
