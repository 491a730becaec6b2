/**
 * An in-memory bank behind the broker's `Bank` interface, standing in for the outside macro-payment
 * system in the model test. It behaves like packages/bank where it matters: transfers are idempotent per
 * payer account and key (same key and body: the same answer; same key, other body: refused), a refused
 * transfer does not use its key up, and `findTransfer` finds a transfer by key for its payer or its payee.
 * Faults come from the seeded RNG: the bank is down before applying (bank_unavailable), applies the
 * transfer and the answer is lost (bank_unavailable after applying), or refuses it (bank_rejected).
 */
import { type Bank, type BankTransferRequest, bankRejected, bankUnavailable } from '../../src/bank.ts';
import type { Rng } from './prng.ts';

export interface BankFaults {
  /** Down before applying. */
  readonly down: number;
  /** Applied, answer lost. */
  readonly lost: number;
  /** Refused for no reason the broker can fix (account frozen, limit, …). */
  readonly reject: number;
  /** `findTransfer` unreachable. */
  readonly findDown: number;
}

export const NO_FAULTS: BankFaults = { down: 0, lost: 0, reject: 0, findDown: 0 };

interface Account {
  readonly token: string;
  balance: bigint;
}

interface StoredTransfer {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly amount: bigint;
}

export type BankOutcome = 'ok' | 'replayed' | 'down' | 'lost' | 'rejected' | 'found' | 'missing';

export interface BankCall {
  readonly op: 'transfer' | 'find';
  readonly key: string;
  readonly from?: string;
  readonly outcome: BankOutcome;
  readonly code?: string;
}

export class FakeBank implements Bank {
  private readonly accounts = new Map<string, Account>();
  /** By payer account and key. */
  private readonly transfers = new Map<string, StoredTransfer>();
  private seq = 0;
  /** Every call, in order (the model reads the calls of the current step). */
  readonly log: BankCall[] = [];
  /** Set when the broker tried to pay out more than its own account holds: a broker bug. */
  overdrafts: string[] = [];
  faults: BankFaults;

  constructor(
    private readonly rng: Rng,
    faults: BankFaults,
    private readonly brokerAccount: string,
  ) {
    this.faults = faults;
  }

  open(id: string, token: string, balance: bigint): void {
    if (this.accounts.has(id)) throw new Error(`bank account ${id} exists`);
    this.accounts.set(id, { token, balance });
  }

  balance(id: string): bigint {
    return this.accounts.get(id)?.balance ?? 0n;
  }

  total(): bigint {
    let t = 0n;
    for (const a of this.accounts.values()) t += a.balance;
    return t;
  }

  /** Whether a transfer from `from` under `key` was applied. */
  applied(from: string, key: string): boolean {
    return this.transfers.has(`${from}\n${key}`);
  }

  fingerprint(): string {
    return [...this.accounts].map(([id, a]) => `${id}=${a.balance}`).join(',');
  }

  async transfer(req: BankTransferRequest): Promise<{ id: string }> {
    const call = (outcome: BankOutcome, code?: string) =>
      this.log.push({ op: 'transfer', key: req.key, from: req.from, outcome, ...(code ? { code } : {}) });
    const from = this.accounts.get(req.from);
    if (!from || from.token !== req.token) {
      call('rejected', 'unauthorized');
      throw bankRejected('unauthorized', 'unknown account or wrong token');
    }
    const stored = this.transfers.get(`${req.from}\n${req.key}`);
    if (this.rng.chance(this.faults.down)) {
      call('down');
      throw bankUnavailable('bank down');
    }
    if (stored) {
      if (stored.to !== req.to || stored.amount !== req.amount) {
        call('rejected', 'idempotency_conflict');
        throw bankRejected('idempotency_conflict', 'this key was used for another transfer');
      }
      if (this.rng.chance(this.faults.lost)) {
        call('lost');
        throw bankUnavailable('answer lost');
      }
      call('replayed');
      return { id: stored.id };
    }
    const to = this.accounts.get(req.to);
    if (!to) {
      call('rejected', 'unknown_account');
      throw bankRejected('unknown_account', `no account ${req.to}`);
    }
    if (req.amount <= 0n) {
      call('rejected', 'bad_amount');
      throw bankRejected('bad_amount', 'amount must be positive');
    }
    if (this.rng.chance(this.faults.reject)) {
      call('rejected', 'refused');
      throw bankRejected('refused', 'the bank refused the transfer');
    }
    if (from.balance < req.amount) {
      if (req.from === this.brokerAccount)
        this.overdrafts.push(`${req.key}: ${from.balance} < ${req.amount}`);
      call('rejected', 'insufficient_funds');
      throw bankRejected('insufficient_funds', `balance ${from.balance} < ${req.amount}`);
    }
    const t: StoredTransfer = { id: `bt_${++this.seq}`, from: req.from, to: req.to, amount: req.amount };
    from.balance -= req.amount;
    to.balance += req.amount;
    this.transfers.set(`${req.from}\n${req.key}`, t);
    if (this.rng.chance(this.faults.lost)) {
      call('lost');
      throw bankUnavailable('answer lost');
    }
    call('ok');
    return { id: t.id };
  }

  async findTransfer(key: string, fromToken: string): Promise<{ id: string } | null> {
    if (this.rng.chance(this.faults.findDown)) {
      this.log.push({ op: 'find', key, outcome: 'down' });
      throw bankUnavailable('bank down');
    }
    const owner = [...this.accounts].find(([, a]) => a.token === fromToken)?.[0];
    if (!owner) {
      this.log.push({ op: 'find', key, outcome: 'rejected', code: 'unauthorized' });
      throw bankRejected('unauthorized', 'unknown token');
    }
    // Like packages/bank: the payer's own transfer under the key first, else one paid to this account.
    const t =
      this.transfers.get(`${owner}\n${key}`) ??
      [...this.transfers].find(([k, x]) => x.to === owner && k.endsWith(`\n${key}`))?.[1];
    this.log.push({ op: 'find', key, from: owner, outcome: t ? 'found' : 'missing' });
    return t ? { id: t.id } : null;
  }
}
