/**
 * The client half: NetPay as an x402 `SchemeNetworkClient`. x402 picks a requirement and asks for a
 * payload; this rebuilds the NetPay terms from the requirement's `extra` and pays them from the NetPay
 * wallet (`wallet.pay`: coins worth exactly the price, written down as in flight, as sent through x402,
 * before the payword leaves). Once x402 has built its `PAYMENT-SIGNATURE` around it (its
 * `onAfterPaymentCreation` hook, before the request goes) the wallet writes down that header value and the
 * URL, so `recoverPayments` can send the very same header again if the answer is lost.
 *
 * When x402 reads the answer (its `onPaymentResponse` hook) the payment is settled in the wallet: a
 * successful settlement keeps the NetPay receipt; `payment_conflict` (these coins were spent there already:
 * the request went twice) keeps them spent without one; anything else gives the coins back to their
 * chains, since the vendor recorded nothing (the NetPay gate's rule: a payment is receipted or not
 * charged). A transport error leaves the payment in flight in the wallet, for `recoverPayments`.
 *
 * Spend controls: x402 refuses assets its scheme does not recognise. This scheme recognises its wallet's
 * currency (`findDefaultAsset`), so x402's default per-payment cap ("$1", read as one unit of that currency)
 * applies to NetPay as to any default asset.
 */
import {
  brokerIdOf,
  type Currency,
  decodeHeader,
  encodeHeader,
  NetPayError,
  netpayPaymentOf,
  type Terms,
  X402_SCHEME,
  x402ToTerms,
} from '@netpay/protocol';
import type { Wallet } from '@netpay/wallet';
import type {
  PaymentCreatedContext,
  PaymentPolicy,
  PaymentResponseContext,
  x402Client,
} from '@x402/core/client';
import { encodePaymentSignatureHeader } from '@x402/core/http';
import type {
  DefaultAsset,
  Network,
  PaymentPayload,
  PaymentPayloadContext,
  PaymentPayloadResult,
  PaymentRequirements,
  SchemeClientHooks,
  SchemeNetworkClient,
} from '@x402/core/types';

/** Limits on what the scheme pays, in minor units of the wallet's currency. */
export interface NetpayClientOptions {
  /** Most one payment may cost (x402's own cap applies as well). */
  readonly maxAmountPerPayment?: bigint;
  /** Most one vendor may be paid in a UTC day (counted by the wallet). */
  readonly maxPerVendorPerDay?: bigint;
  /** Most all vendors together may be paid in a UTC day (counted by the wallet). */
  readonly maxPerDay?: bigint;
}

/** Why this wallet cannot pay a requirement, or undefined when it can. */
type Refusal = { readonly code: string; readonly message: string } | undefined;

export class NetpayClientScheme implements SchemeNetworkClient {
  readonly scheme: string = X402_SCHEME;
  readonly schemeHooks: SchemeClientHooks = {
    onAfterPaymentCreation: (ctx) => this.sending(ctx),
    onPaymentResponse: (ctx) => this.settle(ctx),
  };
  /**
   * An x402 policy: drops the NetPay requirements this wallet cannot pay (another currency, a broker it
   * does not buy from, over `maxAmountPerPayment`), so x402 picks another way to pay if there is one.
   */
  readonly policy: PaymentPolicy = (_version, requirements) =>
    requirements.filter((r) => r.scheme !== X402_SCHEME || this.refusal(r) === undefined);
  private currency: Currency | undefined;

  constructor(
    private readonly wallet: Wallet,
    private readonly options: NetpayClientOptions = {},
  ) {}

  /** Learns the wallet's currency (from its broker, the first time): needed for `findDefaultAsset`. */
  async ready(): Promise<void> {
    this.currency ??= await this.wallet.currency();
  }

  /** The wallet's currency on a NetPay network is a default asset, of `exponent` decimals. */
  findDefaultAsset(asset: string, network: Network): DefaultAsset | undefined {
    const c = this.currency;
    if (!c || brokerIdOf(network) === undefined || asset !== c.code) return undefined;
    return { asset, decimals: c.exponent, symbol: c.code };
  }

  async createPaymentPayload(
    x402Version: number,
    requirements: PaymentRequirements,
    context?: PaymentPayloadContext,
  ): Promise<PaymentPayloadResult> {
    await this.ready();
    const terms = x402ToTerms(requirements);
    if (!terms.ok) throw new NetPayError(terms.error.code, terms.error.message, { status: 402 });
    const refused = this.refusal(requirements, context?.maxAmountPerPayment);
    if (refused) throw new NetPayError(refused.code, refused.message, { status: 402 });
    const { vendorId, resource } = terms.value;
    const prepared = await this.wallet.pay({
      amount: BigInt(terms.value.price),
      vendorId,
      resource,
      limits: { perVendorPerDay: this.options.maxPerVendorPerDay, perDay: this.options.maxPerDay },
      x402: true,
    });
    const payment = decodeHeader('payment', prepared.header);
    if (!payment.ok) {
      await this.wallet.settle(prepared.id, { accepted: false, code: 'wallet_damaged' });
      throw new NetPayError('wallet_damaged', `the wallet made an invalid payment: ${payment.error.message}`);
    }
    return { x402Version, payload: { payment: payment.value } };
  }

  /**
   * The wallet's payment in flight that `payload` carries (found by its header: no list kept here, so a
   * payment whose answer never comes leaves nothing behind but its record in the wallet).
   */
  private inFlight(payload: PaymentPayload): string | undefined {
    const payment = netpayPaymentOf(payload.payload);
    if (!payment.ok) return undefined;
    const header = encodeHeader(payment.value);
    return this.wallet.unsettled().find((p) => p.header === header)?.id;
  }

  /**
   * Writes down, before the request goes, how the payment is sent: x402's `PAYMENT-SIGNATURE` value and
   * the URL (the one x402's 402 names, with the NetPay resource's path), so that `recoverPayments` can
   * send the very same header again.
   */
  private async sending(ctx: PaymentCreatedContext): Promise<void> {
    const id = this.inFlight(ctx.paymentPayload);
    if (id === undefined) return;
    const url = urlOf(ctx.paymentPayload);
    await this.wallet.sentAs(id, {
      ...(url ? { url } : {}),
      signature: encodePaymentSignatureHeader(ctx.paymentPayload),
    });
  }

  /**
   * Records the answer to a payment in the wallet: settled (the receipt kept) or not (the coins given
   * back). `payment_conflict` means the coins were spent there already (the request went twice): they stay
   * spent. A transport error leaves it in flight: whether it arrived is unknown.
   */
  private async settle(ctx: PaymentResponseContext): Promise<void> {
    if (ctx.error) return;
    const id = this.inFlight(ctx.paymentPayload);
    if (id === undefined) return;
    const settled = ctx.settleResponse;
    if (settled?.success) {
      const receipt = decodeHeader('receipt', settled.transaction);
      await this.wallet.settle(id, {
        accepted: true,
        receipt: receipt.ok ? receipt.value : settled.transaction,
      });
      return;
    }
    const code = settled?.errorReason ?? ctx.paymentRequired?.error ?? 'not_settled';
    await this.wallet.settle(
      id,
      code === 'payment_conflict' ? { accepted: true, code } : { accepted: false, code },
    );
  }

  /** Whether the wallet can pay this NetPay requirement under the caps (x402's and this scheme's). */
  private refusal(r: PaymentRequirements, x402Cap?: string): Refusal {
    const terms = x402ToTerms(r);
    if (!terms.ok) return terms.error;
    const price = BigInt(terms.value.price);
    const own = this.options.maxAmountPerPayment;
    if (own !== undefined && price > own)
      return { code: 'over_max_price', message: `${price} is over the most per payment, ${own}` };
    if (x402Cap !== undefined && /^\d+$/.test(x402Cap) && price > BigInt(x402Cap))
      return { code: 'over_max_price', message: `${price} is over x402's cap per payment, ${x402Cap}` };
    return this.currency ? this.check(terms.value) : undefined;
  }

  /** The pay-fetch rules: the wallet's currency, and a broker the wallet buys from. */
  private check(terms: Terms): Refusal {
    const c = this.currency;
    if (c && (terms.currency !== c.code || terms.exponent !== c.exponent))
      return {
        code: 'wrong_currency',
        message: `${terms.vendorId} asks for ${terms.currency}/${terms.exponent}; this wallet holds ${c.code}/${c.exponent}`,
      };
    if (!terms.brokers.some((b) => b.url.replace(/\/+$/, '') === this.wallet.brokerUrl))
      return {
        code: 'broker_not_accepted',
        message: `${terms.vendorId} does not take coins from ${this.wallet.brokerUrl}`,
      };
    return undefined;
  }
}

/**
 * Where a payment is sent again: the URL x402's 402 names for the resource (`resource.url`: the vendor's
 * view of the request, or the route's `resource`) with the path of the NetPay resource ("GET /path?q").
 * Undefined when it names no http(s) URL: such a payment cannot be sent again.
 */
function urlOf(payload: PaymentPayload): string | undefined {
  const terms = x402ToTerms(payload.accepted);
  if (!terms.ok) return undefined;
  const { resource } = terms.value;
  const path = resource.slice(resource.indexOf(' ') + 1);
  try {
    const base = new URL(payload.resource?.url ?? '');
    const url = new URL(path, base);
    return (base.protocol === 'http:' || base.protocol === 'https:') && url.origin === base.origin
      ? url.toString()
      : undefined;
  } catch {
    return undefined;
  }
}

/** The NetPay scheme for x402's client, paying from `wallet`. */
export const netpayScheme = (wallet: Wallet, options?: NetpayClientOptions): NetpayClientScheme =>
  new NetpayClientScheme(wallet, options);

/**
 * Registers NetPay on an x402 client: the scheme on every `netpay:*` network and its policy (requirements
 * the wallet cannot pay are dropped, so x402 may pick another way). Learns the wallet's currency first, so
 * x402's spend controls recognise it.
 */
export async function registerNetpay(
  client: x402Client,
  wallet: Wallet,
  options?: NetpayClientOptions,
): Promise<x402Client> {
  const scheme = netpayScheme(wallet, options);
  await scheme.ready();
  return client.register(`${X402_SCHEME}:*`, scheme).registerPolicy(scheme.policy);
}

/** An x402 policy that puts NetPay's requirements first: the default selector then picks NetPay. */
export const preferNetpay: PaymentPolicy = (_version, requirements) => [
  ...requirements.filter((r) => r.scheme === X402_SCHEME),
  ...requirements.filter((r) => r.scheme !== X402_SCHEME),
];
