/**
 * A small deterministic world for the model's directed regression tests: the broker's services on an
 * in-memory PGlite with the fake bank (no faults), plus helpers that act as a wallet and as vendors.
 */
import { migrate, openDatabase } from '@netpay/db';
import {
  ChainTraversal,
  type Claim,
  createSigner,
  type Ed25519Signer,
  type IndexMessage,
  signMessage,
  toBase64url,
} from '@netpay/protocol';
import { createBroker } from '../../src/app.ts';
import { BROKER_MIGRATIONS } from '../../src/migrations.ts';
import { FakeBank, NO_FAULTS } from './fake-bank.ts';
import { Rng } from './prng.ts';
import { BROKER_BANK, MODEL_CONFIG, START } from './sim.ts';

export interface SmallVendor {
  readonly id: string;
  readonly signer: Ed25519Signer;
}

export interface SmallChain {
  readonly chainId: string;
  readonly root: string;
  /** W(0) … W(n), base64url. */
  readonly words: readonly string[];
}

export async function smallWorld(seed = 1) {
  const rng = new Rng(seed);
  const brokerRng = rng.fork();
  const bank = new FakeBank(rng.fork(), NO_FAULTS, BROKER_BANK.account);
  bank.open(BROKER_BANK.account, BROKER_BANK.token, 0n);
  let now = START;
  const db = await openDatabase();
  await migrate(db, BROKER_MIGRATIONS);
  const broker = createBroker({
    db,
    clock: () => now,
    random: (n) => brokerRng.bytes(n),
    bank,
    config: MODEL_CONFIG,
  });
  const s = broker.services;
  const nowSec = () => Math.floor(now / 1000);
  let counter = 0;

  async function customer(load = 50_000n) {
    const name = `d${++counter}`;
    const reg = await s.accounts.register({
      login: `${name}@example.com`,
      password: 'correct horse battery',
      deviceName: 'test',
    });
    bank.open(`acct-${name}`, `tok-${name}`, 1_000_000n);
    if (load > 0n) {
      await s.issuance.load(
        reg.customerId,
        { amount: load, bankAccount: `acct-${name}`, bankToken: `tok-${name}` },
        `load-${name}`,
      );
    }
    return { customerId: reg.customerId };
  }

  async function vendor(): Promise<SmallVendor> {
    const id = `vendor-${++counter}`;
    const signer = createSigner(rng.bytes(32));
    bank.open(`acct-${id}`, `tok-${id}`, 0n);
    await s.parties.register({
      id,
      kind: 'vendor',
      name: id,
      publicKey: toBase64url(signer.publicKey),
      bankAccount: `acct-${id}`,
    });
    return { id, signer };
  }

  /** A client-side chain, every payword computed up front (chains here are short). */
  function chain(n: number): SmallChain {
    const id = rng.bytes(16);
    const { traversal, root } = ChainTraversal.create(rng.bytes(32), id, n);
    const words = [toBase64url(root)];
    for (let i = 0; i < n; i++) words.push(toBase64url(traversal.next()!.payword));
    return { chainId: toBase64url(id), root: toBase64url(root), words };
  }

  async function buy(c: { customerId: string }, chains: readonly SmallChain[], coinValue = 10n) {
    const orders = chains.map((ch) => ({
      coinValue,
      n: ch.words.length - 1,
      chainId: ch.chainId,
      root: ch.root,
    }));
    return db.transaction((tx) => s.issuance.buy(tx, c.customerId, orders, `buy-${++counter}`));
  }

  function index(
    v: SmallVendor,
    ch: SmallChain,
    i: number,
    payword: string,
    handedTo: string | null,
  ): IndexMessage {
    return signMessage(
      'index',
      { v: 1, chainId: ch.chainId, index: i, payword, vendorId: v.id, handedTo, issuedAt: nowSec() },
      v.signer,
    );
  }

  function claim(v: SmallVendor, ch: SmallChain, from: number, to: number, claimId?: string): Claim {
    return signMessage(
      'claim',
      {
        v: 1,
        claimId: claimId ?? toBase64url(rng.bytes(16)),
        vendorId: v.id,
        chainId: ch.chainId,
        from: { index: from, payword: ch.words[from]! },
        to: { index: to, payword: ch.words[to]! },
        issuedAt: nowSec(),
      },
      v.signer,
    );
  }

  const redeem = (v: SmallVendor, claims: readonly Claim[]) =>
    db.transaction((tx) => s.redemption.redeem(tx, v.id, claims));

  return {
    db,
    s,
    bank,
    customer,
    vendor,
    chain,
    buy,
    index,
    claim,
    redeem,
    randomWord: () => toBase64url(rng.bytes(32)),
    advance(ms: number) {
      now += ms;
    },
    close: () => db.close(),
  };
}
