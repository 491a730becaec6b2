/**
 * The in-process facilitator: x402's `FacilitatorClient` over the vendor's own NetPay gate, with no network
 * call. `verify` is the gate's payment check (`gate.begin`): the coins are checked with one hash each and
 * reserved under their chains' lock, and the ticket is kept. `settle` is the durable commit
 * (`gate.finish(ticket, true)`): the coins are recorded before x402 sends the response, and the NetPay
 * receipt is the settlement's `transaction`.
 *
 * Between the two the chains stay locked, so a second request carrying the same payword waits; once the
 * first is settled the coins are spent and the second is refused (a payment the gate would serve again as a
 * retry is refused too: x402 has no retry of a settled payment). A ticket x402 never settles is released
 * when it cancels the payment (the handler failed: `cancel`, called by the scheme's hook) or after `holdMs`.
 */
import {
  encodeHeader,
  HEADERS,
  netpayPaymentOf,
  X402_SCHEME,
  X402_VERSION,
  x402Network,
  x402ToTerms,
} from '@netpay/protocol';
import type { Gate, Ticket } from '@netpay/vendor';
import { createBrokerApi } from '@netpay/wallet';
import type { FacilitatorClient } from '@x402/core/server';
import type {
  Network,
  PaymentPayload,
  PaymentRequirements,
  SettleResponse,
  SupportedResponse,
  VerifyResponse,
} from '@x402/core/types';
import { vendorTerms } from './server.ts';

export interface NetpayFacilitatorOptions {
  /**
   * Longest a verified payment waits for x402 to settle or cancel it (ms); then its coins are released
   * uncharged. Default 60,000.
   */
  readonly holdMs?: number;
}

/** A verified payment waiting for its settlement. */
interface Held {
  readonly ticket: Ticket;
  readonly amount: string;
  readonly timer: ReturnType<typeof setTimeout>;
}

const PAYMENT_HEADER = HEADERS.payment.toLowerCase();

export class NetpayFacilitator implements FacilitatorClient {
  private readonly held = new Map<string, Held>();
  private readonly holdMs: number;
  private brokerId: string | undefined;

  constructor(
    private readonly gate: Gate,
    options: NetpayFacilitatorOptions = {},
  ) {
    this.holdMs = options.holdMs ?? 60_000;
  }

  /** How many verified payments wait for their settlement. */
  get holding(): number {
    return this.held.size;
  }

  /**
   * The vendor's network, `netpay:<brokerId>`: the broker id its keys name, or (a broker that has signed no
   * chain yet has no keys) the one its broker's configuration states.
   */
  async network(): Promise<Network> {
    const terms = vendorTerms(this.gate);
    this.brokerId ??=
      terms.brokers.find((b) => b.brokerId)?.brokerId ??
      (await createBrokerApi(terms.brokers[0]!.url).config({})).brokerId;
    return x402Network(this.brokerId);
  }

  async getSupported(): Promise<SupportedResponse> {
    const network = await this.network();
    return {
      kinds: [{ x402Version: X402_VERSION, scheme: X402_SCHEME, network }],
      extensions: [],
      signers: {},
    };
  }

  async verify(payload: PaymentPayload, requirements: PaymentRequirements): Promise<VerifyResponse> {
    const terms = x402ToTerms(requirements);
    if (!terms.ok) return invalid(terms.error.code, terms.error.message);
    const payment = netpayPaymentOf(payload.payload);
    if (!payment.ok) return invalid(payment.error.code, payment.error.message);
    const key = encodeHeader(payment.value);
    const space = terms.value.resource.indexOf(' ');
    const begun = await this.gate.begin(
      {
        method: space > 0 ? terms.value.resource.slice(0, space) : 'GET',
        url: space > 0 ? terms.value.resource.slice(space + 1) : terms.value.resource,
        headers: { [PAYMENT_HEADER]: key },
      },
      { amount: BigInt(terms.value.price) },
    );
    if ('answer' in begun) return invalid(begun.answer.body.code, begun.answer.body.message);
    const ticket = begun.ticket;
    if (ticket.wallet || ticket.replay || this.held.has(key)) {
      await this.gate.finish(ticket, false);
      return invalid('payment_conflict', 'these coins were already spent here');
    }
    const timer = setTimeout(() => void this.release(key, ticket), this.holdMs);
    timer.unref?.();
    this.held.set(key, { ticket, amount: terms.value.price, timer });
    return { isValid: true };
  }

  async settle(payload: PaymentPayload, requirements: PaymentRequirements): Promise<SettleResponse> {
    const { network } = requirements;
    const fail = (errorReason: string, errorMessage: string): SettleResponse => ({
      success: false,
      errorReason,
      errorMessage,
      transaction: '',
      network,
    });
    const payment = netpayPaymentOf(payload.payload);
    if (!payment.ok) return fail(payment.error.code, payment.error.message);
    const held = this.take(encodeHeader(payment.value));
    if (!held)
      return fail(
        'payment_not_verified',
        'no verified payment waits for these coins: settled, released or never verified',
      );
    if (requirements.amount !== held.amount) {
      await this.gate.finish(held.ticket, false);
      return fail(
        'amount_mismatch',
        `verified for ${held.amount}, settled for ${requirements.amount}; nothing was charged`,
      );
    }
    const done = await this.gate.finish(held.ticket, true);
    if ('answer' in done) return fail(done.answer.body.code, done.answer.body.message);
    const receipt = done.headers[HEADERS.receipt.toLowerCase()];
    if (receipt === undefined) throw new Error('the gate committed a payment without a receipt');
    return { success: true, transaction: receipt, network, amount: held.amount };
  }

  /** Releases a verified payment uncharged (x402 canceled it: the handler failed). */
  async cancel(payload: unknown): Promise<void> {
    const payment = netpayPaymentOf(payload);
    if (!payment.ok) return;
    const held = this.take(encodeHeader(payment.value));
    if (held) await this.gate.finish(held.ticket, false);
  }

  /** Releases a payment's ticket after `holdMs`, if it still waits. */
  private async release(key: string, ticket: Ticket): Promise<void> {
    if (this.held.get(key)?.ticket !== ticket) return;
    this.take(key);
    await this.gate.finish(ticket, false);
  }

  private take(key: string): Held | undefined {
    const held = this.held.get(key);
    if (!held) return undefined;
    clearTimeout(held.timer);
    this.held.delete(key);
    return held;
  }
}

const invalid = (invalidReason: string, invalidMessage: string): VerifyResponse => ({
  isValid: false,
  invalidReason,
  invalidMessage,
});
