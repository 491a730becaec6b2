import type { Queryable } from '@netpay/db';
import {
  ChainTraversal,
  fromBase64url,
  sha256,
  signMessage,
  type Touchstone,
  toBase64url,
  toHex,
  utf8,
} from '@netpay/protocol';
import { normalizeLogin } from '../accounts/service.ts';
import { BankRejected, BankUnavailable } from '../bank.ts';
import type { BrokerContext } from '../context.ts';
import { customerChains, insertChain, outstandingValue } from '../directory/store.ts';
import { fail } from '../errors.ts';
import type { KeyService } from '../keys/service.ts';
import { customerAccount, InsufficientFunds, SYSTEM_ACCOUNTS } from '../ledger/ledger.ts';

export interface ChainOrder {
  /** Coin value in minor units: one of the configured denominations. */
  readonly coinValue: bigint;
  readonly n: number;
  /** Client-side wallet: the chain id and root it generated (the broker never sees the seed). */
  readonly chainId?: string;
  readonly root?: string;
}

type MovementKind = 'load' | 'unload';

/** A pending load the bank has no trace of after this long is marked failed. */
const LOAD_GIVE_UP_MS = 86_400_000;

/**
 * Money in and out of a customer's broker account, and coins: loading from the bank, unloading to it,
 * buying chains in denominations (client-side or server-side wallets), and paying another customer.
 */
export function createIssuanceService(ctx: BrokerContext, keys: KeyService) {
  const { db, config, ledger } = ctx;
  const limits = config.limits;

  function movementId(kind: MovementKind, customerId: string, key: string): string {
    return `${kind}_${toHex(sha256(utf8(`${customerId}\n${key}`))).slice(0, 40)}`;
  }

  function requireBank() {
    if (!ctx.bank || !config.bank)
      throw fail('bank_unavailable', 'this broker has no bank connection configured');
    return { bank: ctx.bank, own: config.bank };
  }

  async function customerBalance(q: Queryable, customerId: string) {
    return ledger.balance(q, customerAccount(customerId));
  }

  async function recordMovement(
    customerId: string,
    kind: MovementKind,
    id: string,
    amount: bigint,
    bankAccount: string,
    onInsert?: (tx: Queryable) => Promise<void>,
  ): Promise<'pending' | 'done' | 'failed'> {
    return db.transaction(async (tx) => {
      const [m] = await tx.query<{
        amount: bigint;
        bank_account: string;
        status: 'pending' | 'done' | 'failed';
      }>('SELECT amount, bank_account, status FROM bank_movements WHERE id = $1 FOR UPDATE', [id]);
      if (m) {
        if (m.amount !== amount || m.bank_account !== bankAccount) {
          throw fail('idempotency_conflict', 'this Idempotency-Key was used with a different request');
        }
        return m.status;
      }
      await tx.query(
        `INSERT INTO bank_movements (id, customer_id, kind, amount, bank_account, status, created_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6)`,
        [id, customerId, kind, amount, bankAccount, BigInt(ctx.clock())],
      );
      await onInsert?.(tx);
      return 'pending';
    });
  }

  function bankFailure(e: unknown): never {
    if (e instanceof BankRejected)
      throw fail('bank_rejected', `the bank refused the transfer: ${e.message}`, { bankCode: e.code });
    if (e instanceof BankUnavailable) {
      throw fail('bank_unavailable', 'the bank did not answer; retry with the same Idempotency-Key', {});
    }
    throw e;
  }

  /** Pulls money from the customer's bank account into the broker account (exactly once per key). */
  async function load(
    customerId: string,
    input: { amount: bigint; bankAccount: string; bankToken: string },
    key: string,
  ) {
    const { bank, own } = requireBank();
    if (input.amount < limits.minLoad || input.amount > limits.maxLoad) {
      throw fail(
        'limit_exceeded',
        `a load must be between ${limits.minLoad} and ${limits.maxLoad} minor units`,
      );
    }
    const id = movementId('load', customerId, key);
    const status = await recordMovement(customerId, 'load', id, input.amount, input.bankAccount);
    if (status === 'failed') throw fail('bank_rejected', 'this load was refused by the bank');
    if (status === 'pending') {
      try {
        await bank.transfer({
          key: id,
          from: input.bankAccount,
          to: own.account,
          amount: input.amount,
          token: input.bankToken,
          reference: id,
        });
      } catch (e) {
        if (e instanceof BankRejected) await markMovement(db, id, 'failed', false);
        bankFailure(e);
      }
      await completeLoad(id, customerId, input.amount);
    }
    return { movementId: id, amount: input.amount, balance: await customerBalance(db, customerId) };
  }

  /** Marks a bank movement done or failed; only one still pending when `onlyPending`. */
  async function markMovement(q: Queryable, id: string, status: 'done' | 'failed', onlyPending = true) {
    await q.query(
      `UPDATE bank_movements SET status = $2, completed_at = $3 WHERE id = $1${onlyPending ? " AND status = 'pending'" : ''}`,
      [id, status, BigInt(ctx.clock())],
    );
  }

  /**
   * Credits the customer for a movement (a load that arrived, or an unload the bank refused) and marks it,
   * in one transaction, when `applies` accepts the movement's current status. Exactly once: the ledger
   * transfer id is derived from the movement id.
   */
  async function creditForMovement(
    m: { id: string; customerId: string; amount: bigint },
    o: { applies: (status: string) => boolean; transferId: string; kind: string; status: 'done' | 'failed' },
  ) {
    await db.transaction(async (tx) => {
      const [row] = await tx.query<{ status: string }>(
        'SELECT status FROM bank_movements WHERE id = $1 FOR UPDATE',
        [m.id],
      );
      if (!row || !o.applies(row.status)) return;
      await ledger.post(tx, [
        {
          id: o.transferId,
          debit: SYSTEM_ACCOUNTS.bank,
          credit: customerAccount(m.customerId),
          amount: m.amount,
          kind: o.kind,
          ref: m.id,
        },
      ]);
      await markMovement(tx, m.id, o.status, false);
    });
  }

  /** The bank confirmed the money arrived: credit it even if reconcile gave up on it meanwhile. */
  const completeLoad = (id: string, customerId: string, amount: bigint) =>
    creditForMovement(
      { id, customerId, amount },
      { applies: (st) => st !== 'done', transferId: id, kind: 'load', status: 'done' },
    );

  /** Pays money from the customer's broker balance back to a bank account (exactly once per key). */
  async function unload(customerId: string, input: { amount: bigint; bankAccount: string }, key: string) {
    const { bank, own } = requireBank();
    if (input.amount <= 0n) throw fail('bad_request', 'amount must be positive');
    const id = movementId('unload', customerId, key);
    const status = await recordMovement(
      customerId,
      'unload',
      id,
      input.amount,
      input.bankAccount,
      async (tx) => {
        await debitCustomer(
          tx,
          customerId,
          input.amount,
          { id, kind: 'unload', credit: SYSTEM_ACCOUNTS.bank },
          0n,
        );
      },
    );
    if (status === 'failed')
      throw fail('bank_rejected', 'this unload was refused by the bank; the money is back in your balance');
    if (status === 'pending') await sendUnload(id, customerId, input.amount, input.bankAccount, bank, own);
    return { movementId: id, amount: input.amount, balance: await customerBalance(db, customerId) };
  }

  async function sendUnload(
    id: string,
    customerId: string,
    amount: bigint,
    bankAccount: string,
    bank: NonNullable<BrokerContext['bank']>,
    own: NonNullable<BrokerContext['config']['bank']>,
  ) {
    try {
      await bank.transfer({
        key: id,
        from: own.account,
        to: bankAccount,
        amount,
        token: own.token,
        reference: id,
      });
    } catch (e) {
      if (e instanceof BankRejected) {
        // Definitive refusal: put the money back where it was.
        await creditForMovement(
          { id, customerId, amount },
          {
            applies: (st) => st === 'pending',
            transferId: `${id}:reversal`,
            kind: 'unload_reversal',
            status: 'failed',
          },
        );
      }
      bankFailure(e);
    }
    await markMovement(db, id, 'done');
  }

  /**
   * Finishes bank movements left pending by a time-out or a crash: unloads are resent with the same key
   * (the bank does each key once); loads are completed when the bank confirms the customer's transfer
   * reached the broker's account under the movement's key (or failed if it never happened after a day).
   */
  async function reconcile(olderThanMs = 60_000) {
    if (!ctx.bank || !config.bank) return { retried: 0 };
    const rows = await db.query<{
      id: string;
      customer_id: string;
      kind: MovementKind;
      amount: bigint;
      bank_account: string;
      created_at: bigint;
    }>(
      "SELECT id, customer_id, kind, amount, bank_account, created_at FROM bank_movements WHERE status = 'pending' AND created_at < $1",
      [BigInt(ctx.clock() - olderThanMs)],
    );
    let retried = 0;
    for (const m of rows) {
      try {
        if (m.kind === 'unload') {
          await sendUnload(m.id, m.customer_id, m.amount, m.bank_account, ctx.bank, config.bank);
        } else {
          const found = await ctx.bank.findTransfer(m.id, config.bank.token);
          if (found) await completeLoad(m.id, m.customer_id, m.amount);
          else if (BigInt(ctx.clock()) - m.created_at > BigInt(LOAD_GIVE_UP_MS)) {
            // The bank never made it and nobody retried the key for a day: it will not happen.
            await markMovement(db, m.id, 'failed');
          }
        }
        retried++;
      } catch {
        // still unreachable or refused: left for the next run (refusals are already recorded as failed)
      }
    }
    return { retried };
  }

  /** Debits a customer keeping the configured minimum balance; the transfer is appended to `extra`. */
  async function debitCustomer(
    tx: Queryable,
    customerId: string,
    amount: bigint,
    transfer: { id: string; kind: string; credit: string; ref?: string },
    minBalance = limits.minBalance,
  ) {
    const account = customerAccount(customerId);
    const balance = await customerBalance(tx, customerId);
    if (balance - amount < minBalance) {
      throw fail(
        'insufficient_funds',
        `balance ${balance} is not enough for ${amount}${minBalance > 0n ? ` while keeping ${minBalance}` : ''}`,
      );
    }
    try {
      await ledger.post(tx, [
        {
          id: transfer.id,
          debit: account,
          credit: transfer.credit,
          amount,
          kind: transfer.kind,
          ref: transfer.ref,
        },
      ]);
    } catch (e) {
      if (e instanceof InsufficientFunds) throw fail('insufficient_funds', e.message);
      throw e;
    }
  }

  /** Value of the customer's active chains not yet redeemed or refunded. */
  async function outstanding(tx: Queryable, customerId: string): Promise<bigint> {
    return outstandingValue(tx, customerId);
  }

  /** Buys chains in one transaction: all or none. Runs inside the caller's idempotent transaction. */
  async function buy(tx: Queryable, customerId: string, orders: readonly ChainOrder[], transferId: string) {
    let total = 0n;
    for (const o of orders) {
      if (!config.denominations.includes(o.coinValue)) {
        throw fail(
          'bad_denomination',
          `coins come in ${config.denominations.join(', ')} minor units, not ${o.coinValue}`,
        );
      }
      if (o.n > config.maxChainLength)
        throw fail('limit_exceeded', `a chain has at most ${config.maxChainLength} coins`);
      if ((o.chainId === undefined) !== (o.root === undefined)) {
        throw fail(
          'bad_request',
          'send both chainId and root (client-side wallet) or neither (server-side wallet)',
        );
      }
      total += BigInt(o.n) * o.coinValue;
    }
    if (total > limits.maxTransaction || total < limits.minTransaction) {
      throw fail(
        'limit_exceeded',
        `one purchase is between ${limits.minTransaction} and ${limits.maxTransaction} minor units`,
      );
    }
    const held = await outstanding(tx, customerId);
    if (held + total > limits.maxOutstanding) {
      throw fail(
        'limit_exceeded',
        `you may hold at most ${limits.maxOutstanding} in unspent coins; you hold ${held}`,
      );
    }
    await debitCustomer(tx, customerId, total, {
      id: transferId,
      kind: 'buy_coins',
      credit: SYSTEM_ACCOUNTS.coins,
    });
    const { keyId, signer } = await keys.currentKey(tx);
    const issuedAt = Math.floor(ctx.clock() / 1000);
    const expiresAt = issuedAt + config.chainLifetimeSeconds;
    const out: { chainId: string; serverSide: boolean; touchstone: Touchstone }[] = [];
    for (const o of orders) {
      let chainId = o.chainId;
      let root = o.root;
      let seed: Uint8Array | null = null;
      if (!chainId || !root) {
        seed = ctx.random(32);
        const id = ctx.random(16);
        chainId = toBase64url(id);
        root = toBase64url(ChainTraversal.create(seed, id, o.n).root);
      }
      const touchstone = signMessage(
        'touchstone',
        {
          v: 1,
          chainId,
          root,
          n: o.n,
          coinValue: o.coinValue.toString(),
          currency: config.currency.code,
          exponent: config.currency.exponent,
          brokerId: config.brokerId,
          keyId,
          issuedAt,
          expiresAt,
        },
        signer,
      );
      const inserted = await insertChain(tx, {
        chainId,
        customerId,
        keyId,
        n: o.n,
        coinValue: o.coinValue,
        touchstone,
        expiresAt: BigInt(expiresAt * 1000),
        serverSeed: seed,
        createdAt: BigInt(ctx.clock()),
      });
      if (!inserted) throw fail('chain_exists', `chain ${chainId} already exists; generate a new chain id`);
      out.push({ chainId, serverSide: seed !== null, touchstone });
    }
    return { chains: out, total, balance: await customerBalance(tx, customerId) };
  }

  /** Pays another registered customer from this one's balance (Quick Pay's money send). */
  async function send(
    tx: Queryable,
    customerId: string,
    input: { to: string; amount: bigint },
    transferId: string,
  ) {
    if (input.amount <= 0n) throw fail('bad_request', 'amount must be positive');
    if (input.amount > limits.maxTransaction || input.amount < limits.minTransaction) {
      throw fail(
        'limit_exceeded',
        `one payment is between ${limits.minTransaction} and ${limits.maxTransaction} minor units`,
      );
    }
    const [to] = await tx.query<{ id: string }>('SELECT id FROM customers WHERE login = $1', [
      normalizeLogin(input.to) ?? input.to,
    ]);
    if (!to) throw fail('recipient_not_found', `nobody is registered as ${input.to}`);
    if (to.id === customerId) throw fail('bad_request', 'you cannot send money to yourself');
    await debitCustomer(tx, customerId, input.amount, {
      id: transferId,
      kind: 'send',
      credit: customerAccount(to.id),
    });
    return { to: input.to, amount: input.amount, balance: await customerBalance(tx, customerId) };
  }

  /**
   * The customer's chains, oldest first, with what the broker knows of each: how far it is known spent
   * (the last backup or hand-over index, or the end of a redeemed range), which vendor holds it and for
   * how long its lease runs, and whether a refund is pending — so a wallet can resync after a 409.
   */
  async function chains(customerId: string, chainId?: string) {
    const rows = await customerChains(db, customerId, chainId ?? null);
    const now = BigInt(ctx.clock());
    return rows.map((r) => ({
      chainId: r.chain_id,
      n: r.n,
      coinValue: r.coin_value,
      status: r.status,
      serverSide: r.server_seed !== null,
      redeemedCoins: Number(r.redeemed),
      knownSpentIndex: Math.max(r.backup_index, r.top ?? 0),
      holder:
        r.holder === null
          ? null
          : {
              id: r.holder,
              leaseMs: r.lease_until !== null && r.lease_until > now ? Number(r.lease_until - now) : 0,
            },
      refundPending: r.refund_requested_at !== null && r.status === 'active',
      touchstone: r.touchstone,
    }));
  }

  return { load, unload, reconcile, buy, send, chains, customerBalance, outstanding };
}

export type IssuanceService = ReturnType<typeof createIssuanceService>;

/** Wire chain ids and roots are validated by the route schema; this re-checks the decoded lengths. */
export function isChainId(s: string): boolean {
  return fromBase64url(s)?.length === 16;
}
