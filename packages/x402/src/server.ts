/**
 * The resource server half: NetPay as an x402 `SchemeNetworkServer`. It turns a route's price into a
 * requirement carrying the NetPay terms the vendor's gate would answer with (vendor, currency, brokers and
 * their keys), and the request's resource ("GET /path"). The payment itself is checked by the in-process
 * facilitator (facilitator.ts); this scheme only tells it when x402 cancels a verified payment (the
 * handler failed), so the coins it reserved are released at once.
 */
import { brokerIdOf, MinorWireSchema, type Terms, X402_SCHEME } from '@netpay/protocol';
import type { Gate } from '@netpay/vendor';
import type {
  AssetAmount,
  Network,
  PaymentRequirements,
  Price,
  SchemeNetworkServer,
  SchemePaymentRequiredContext,
  SchemeServerHooks,
} from '@x402/core/types';
import type { NetpayFacilitator } from './facilitator.ts';

/** The vendor's terms for `amount` (the gate's own), for a resource not known here. */
export const vendorTerms = (gate: Gate, amount = 1n): Terms =>
  gate.terms({ amount }, { method: 'GET', url: '/', headers: {} });

/** Longest resource a requirement names (the terms' limit); a longer one drops its query. */
const MAX_RESOURCE = 4096;

export class NetpayServerScheme implements SchemeNetworkServer {
  readonly scheme: string = X402_SCHEME;
  /** NetPay has no asset transfer methods: x402's plumbing value. */
  readonly defaultAssetTransferMethod: string = 'default';
  /** Verified before the handler, settled (committed) after it: x402's `authorization` flow. */
  readonly paymentFlows = {
    default: { supported: ['authorization'], default: 'authorization' },
  } as const satisfies SchemeNetworkServer['paymentFlows'];
  readonly schemeHooks: SchemeServerHooks;
  /**
   * The brokers' key ids may change between a 402 and its paid retry (a key rotated, or the first one
   * made): not part of what the client must echo. The requirement verified is the server's own.
   */
  readonly dynamicExtraFields: string[] = ['brokers'];

  constructor(
    private readonly gate: Gate,
    facilitator?: NetpayFacilitator,
  ) {
    this.schemeHooks = facilitator
      ? { onVerifiedPaymentCanceled: (ctx) => facilitator.cancel(ctx.paymentPayload.payload) }
      : {};
  }

  /**
   * A NetPay price: minor units of the vendor's currency, as a decimal string of digits ("25"), a safe
   * integer, or `{ asset: <currency code>, amount: "25" }`. Money strings ("$0.01") are refused: a NetPay
   * price is never a float.
   */
  async parsePrice(price: Price, _network: Network): Promise<AssetAmount> {
    const { currency } = vendorTerms(this.gate);
    const minor = (amount: unknown) => {
      const text = typeof amount === 'number' && Number.isSafeInteger(amount) ? String(amount) : amount;
      if (!MinorWireSchema.safeParse(text).success || text === '0')
        throw new Error(
          `a NetPay price is a positive number of minor units of ${currency} ("25"), not ${JSON.stringify(amount)}`,
        );
      return text as string;
    };
    if (typeof price === 'object' && price !== null) {
      if (price.asset !== currency)
        throw new Error(`this vendor's NetPay prices are in ${currency}, not ${JSON.stringify(price.asset)}`);
      return { asset: currency, amount: minor(price.amount), extra: { ...price.extra } };
    }
    return { asset: currency, amount: minor(price), extra: {} };
  }

  getAssetDecimals(asset: string, _network: Network): number | undefined {
    const t = vendorTerms(this.gate);
    return asset === t.currency ? t.exponent : undefined;
  }

  /** Adds the terms a wallet needs to pay; the network must be the vendor's broker's. */
  async enhancePaymentRequirements(requirements: PaymentRequirements): Promise<PaymentRequirements> {
    const t = vendorTerms(this.gate, BigInt(requirements.amount));
    const brokerId = brokerIdOf(requirements.network);
    // Before its broker has signed a chain (it has no keys yet) the terms name the broker by URL only.
    const brokers = t.brokers.map((b, i) => (i === 0 && b.brokerId === undefined ? { ...b, brokerId } : b));
    if (brokerId === undefined || !brokers.some((b) => b.brokerId === brokerId))
      throw new Error(
        `this vendor takes NetPay coins of ${t.brokers.map((b) => b.brokerId).join(', ')}, not ${requirements.network}`,
      );
    if (requirements.payTo !== '' && requirements.payTo !== t.vendorId)
      throw new Error(`NetPay pays the vendor ${t.vendorId}, not ${requirements.payTo}`);
    const { vendorId, currency, exponent } = t;
    return {
      ...requirements,
      payTo: vendorId,
      extra: { ...requirements.extra, vendorId, currency, exponent, brokers },
    };
  }

  /**
   * Names the resource in each NetPay requirement ("GET /path?query", as the gate's terms and receipts
   * do): x402 builds requirements before it knows the request, and calls this with it.
   */
  async enrichPaymentRequiredResponse(ctx: SchemePaymentRequiredContext): Promise<PaymentRequirements[]> {
    const resource = resourceOf(ctx);
    return ctx.requirements.map((r) =>
      r.scheme === X402_SCHEME && r.extra.resource === undefined
        ? { ...r, extra: { ...r.extra, resource } }
        : r,
    );
  }
}

/** What the request is for: its method and path (with the query when it fits), as the gate's resourceOf. */
function resourceOf(ctx: SchemePaymentRequiredContext): string {
  const request = (ctx.transportContext as { request?: HttpRequest } | undefined)?.request;
  const url = request?.adapter?.getUrl?.() ?? ctx.resourceInfo.url;
  const method = request?.method ?? 'GET';
  let path: string;
  try {
    const u = new URL(url, 'http://localhost');
    path = u.pathname + u.search;
  } catch {
    path = request?.path ?? '/';
  }
  const resource = `${method.toUpperCase()} ${path}`;
  return resource.length <= MAX_RESOURCE
    ? resource
    : `${method.toUpperCase()} ${request?.path ?? '/'}`.slice(0, MAX_RESOURCE);
}

/** The part of x402's HTTP request context read here. */
interface HttpRequest {
  readonly method?: string;
  readonly path?: string;
  readonly adapter?: { getUrl?(): string };
}
