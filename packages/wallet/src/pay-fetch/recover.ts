/**
 * Settling payments a crash (or a closed tab, or a dropped connection) left in flight, by sending each
 * again exactly as it went.
 */
import { HEADERS } from '@netpay/protocol';
import type { Wallet } from '../wallet.ts';
import { receiptOf, refusalCode } from './answer.ts';

/**
 * Settles payments left in flight by a crash: each is sent again exactly as it was (same paywords, same
 * resource). A vendor that had accepted it answers with the same receipt and charges nothing; one that
 * never saw it accepts it now; a refusal gives the coins back. Payments whose vendor cannot be reached
 * stay in flight (their chains unused) until the next call.
 */
export async function recoverPayments(
  wallet: Wallet,
  options: {
    fetch?: typeof fetch;
    /**
     * Only payments made this long ago or more: where other instances (browser tabs) share the wallet, a
     * younger one may still be waiting for its answer there.
     */
    olderThanMs?: number;
  } = {},
) {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const before = Date.now() - (options.olderThanMs ?? 0);
  const out = { resent: 0, accepted: 0, refused: 0, unreachable: 0, kept: 0 };
  for (const p of wallet.unsettled()) {
    if (!p.url || !p.header || Date.parse(p.at) > before) continue;
    // The same request as it went: a POST is sent again with its body. One that was not kept (not a plain
    // GET, body too big to keep) is left in flight rather than asked for with another request.
    const method = p.request?.method ?? p.resource.split(' ')[0] ?? 'GET';
    if (!p.request && method !== 'GET' && method !== 'HEAD') {
      out.kept++;
      continue;
    }
    out.resent++;
    let res: Response;
    try {
      res = await fetchImpl(p.url, {
        method,
        headers: [...(p.request?.headers ?? []), [HEADERS.payment, p.header]],
        ...(p.request?.body === undefined ? {} : { body: p.request.body }),
        redirect: 'error',
      });
    } catch {
      out.unreachable++;
      continue;
    }
    out[await settleResent(wallet, p.id, res)]++;
    await res.body?.cancel().catch(() => {});
  }
  return out;
}

/** What a payment sent again comes to: taken (a receipt), refused (no receipt, not a 5xx), or still unknown. */
async function settleResent(wallet: Wallet, id: string, res: Response) {
  const receipt = receiptOf(res);
  if (receipt) {
    // Taken, whatever the status (the handler may fail this time; the coins were accepted).
    await wallet.settle(id, { accepted: true, receipt: receipt.kept });
    return 'accepted' as const;
  }
  if (res.status >= 500) return 'unreachable' as const;
  await wallet.settle(id, { accepted: false, code: await refusalCode(res) });
  return 'refused' as const;
}
