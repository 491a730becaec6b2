import { type BankClient, createBankClient } from '@netpay/bank';
import { NetPayError } from '@netpay/protocol';
import { type Bank, bankRejected, bankUnavailable } from './bank.ts';

/** The `Bank` adapter over the stand-in bank's HTTP API (packages/bank). */
export function httpBank(client: BankClient | string): Bank {
  const bank = typeof client === 'string' ? createBankClient(client) : client;
  const translate = (e: unknown): never => {
    // An answer below 500 is the bank's decision; a 5xx, a bad answer or no answer leaves it unknown.
    if (!(e instanceof NetPayError)) throw e;
    if (e.status !== undefined && e.status < 500) throw bankRejected(e.code, e.message);
    throw bankUnavailable(e.message);
  };
  return {
    async transfer(req) {
      try {
        const t = await bank.transfer(req.token, req.key, {
          from: req.from,
          to: req.to,
          amount: req.amount,
          ...(req.reference ? { reference: req.reference } : {}),
        });
        return { id: t.id };
      } catch (e) {
        return translate(e);
      }
    },
    async findTransfer(key, token) {
      try {
        const t = await bank.findTransferByKey(token, key);
        return t ? { id: t.id } : null;
      } catch (e) {
        return translate(e);
      }
    },
  };
}
