import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TAB_HEADER } from '@netpay/api';
import { seedPgliteDataDir } from '@netpay/db/testing';
import { cisClient, ensureRegistered, openPeerWallet, peerIdentity } from '@netpay/peer';
import { encodeHeader, HEADERS, type Payment } from '@netpay/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { clientChain } from '../../broker/test/world.ts';
import { corrupting, fileBytes, ownChain, sha } from '../../peer/test/fixtures.ts';
import { firstLine, processScope, type Run } from './testing.ts';

describe('P2P peers as real processes', () => {
  const { dir, start, bank, broker } = processScope('netpay-p2p-proc-');
  const ADMIN = 'admin-token-for-p2p-tests';
  let cis = '';
  const movie = fileBytes(39, 7, 777);
  let movieId = '';
  const peers: { run: Run; url: string; peerId: string; data: string }[] = [];

  const audit = async () => {
    const r = await fetch(`${cis}/admin/audit`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const body = (await r.json()) as { ok: boolean; mismatched: unknown[] };
    expect(body, JSON.stringify(body)).toMatchObject({ ok: true, mismatched: [] });
  };

  /** `netpay peer start` sharing `share`, its data in <dir>/<name>. */
  async function peerProcess(name: string, share: string, extra: string[] = []) {
    const data = join(dir, name);
    seedPgliteDataDir(join(data, 'db'));
    const run = start([
      'peer',
      'start',
      '--port',
      '0',
      '--json',
      '--share',
      share,
      '--cis',
      cis,
      '--data',
      data,
      '--redeem-every',
      '1',
      ...extra,
    ]);
    const info = JSON.parse(await firstLine(run, 60_000));
    return { run, url: String(info.url), peerId: String(info.peerId), data };
  }

  /** `netpay peer get` into <dir>/<name>/…: its JSON result (or its error). */
  function get(name: string, fileId: string, extra: string[] = []) {
    const data = join(dir, name);
    mkdirSync(data, { recursive: true });
    const out = join(data, 'got.bin');
    const run = start([
      'peer',
      'get',
      fileId,
      '--cis',
      cis,
      '--data',
      data,
      '--out',
      out,
      '--json',
      ...extra,
    ]);
    return {
      run,
      out,
      result: run.exit.then(({ code }) => ({
        code,
        json: code === 0 ? JSON.parse(run.stdout()) : undefined,
        stderr: run.stderr(),
      })),
    };
  }

  const status = async (data: string) => {
    const run = start(['peer', 'status', '--cis', cis, '--data', data, '--json']);
    await run.exit;
    return JSON.parse(run.stdout());
  };

  beforeAll(async () => {
    const bankUrl = (await bank()).url;
    writeFileSync(
      join(dir, 'cis.json'),
      JSON.stringify({
        adminToken: ADMIN,
        feeBasisPoints: 0,
        p2p: { currency: 'tokens', grant: '1000000', freeAllowance: '200000', supplyFactor: 2 },
      }),
    );
    cis = (await broker(bankUrl, ['--config', join(dir, 'cis.json')])).url;
    for (const name of ['alice', 'bob', 'carol']) {
      const share = join(dir, `${name}-share`);
      mkdirSync(share, { recursive: true });
      writeFileSync(join(share, 'holiday-movie.mkv'), movie);
    }
    // In this order whatever order they start in: alice is the one killed, then restarted from its folder.
    peers.push(
      ...(await Promise.all(['alice', 'bob', 'carol'].map((n) => peerProcess(n, join(dir, `${n}-share`))))),
    );
  });

  it('publishes, finds, downloads paying per chunk, and the sellers redeem', async () => {
    const s = start(['peer', 'search', 'holiday', 'movie', '--cis', cis, '--json']);
    await s.exit;
    const offers = JSON.parse(s.stdout()).offers as { fileId: string; chunks: number; peers: unknown[] }[];
    expect(offers).toHaveLength(1);
    expect(offers[0]).toMatchObject({ chunks: 40, size: movie.length });
    expect(offers[0]!.peers).toHaveLength(3);
    movieId = offers[0]!.fileId;
    const g = get('dave', movieId);
    const r = await g.result;
    expect(r.code, r.stderr).toBe(0);
    expect(sha(readFileSync(g.out))).toBe(sha(movie));
    expect(r.json.spent).toBe('400');
    // The sellers redeem within a few seconds (every 1 s): their supply is what dave paid.
    await expect
      .poll(
        async () => {
          let supply = 0n;
          for (const p of peers) supply += BigInt((await status(p.data)).supply);
          return supply;
        },
        { timeout: 30_000 },
      )
      .toBe(400n);
    expect((await status(join(dir, 'dave'))).demand).not.toBe('0');
    await audit();
  });

  it('resumes from the other peers when one is killed mid-download, paying only for what it got', async () => {
    const g = get('erin', movieId);
    const record = `${g.out}.part.json`;
    await expect
      .poll(() => (existsSync(record) ? JSON.parse(readFileSync(record, 'utf8')).done.length : 0), {
        interval: 5,
      })
      .toBeGreaterThanOrEqual(3);
    const victim = peers[0]!;
    victim.run.child.kill('SIGKILL');
    const r = await g.result;
    expect(r.code, r.stderr).toBe(0);
    expect(sha(readFileSync(g.out))).toBe(sha(movie));
    expect(Object.keys(r.json.dropped)).toContain(victim.peerId);
    // 40 chunks at 10, give or take what was in flight at the killed peer: at most one paid chunk it never
    // sent, at most its debt threshold (2) of chunks it sent ahead unpaid.
    expect(BigInt(r.json.spent)).toBeGreaterThanOrEqual(380n);
    expect(BigInt(r.json.spent)).toBeLessThanOrEqual(410n);
    await audit();
  });

  it('detects a chunk corrupted by its seller, does not pay it again, and fetches the chunk elsewhere', async () => {
    const honest = peers[1]!;
    const liar = peers[2]!;
    const proxy = await corrupting(liar.url);
    // The liar's CIS entry now points at a proxy that flips a byte of every chunk it sells.
    const id = peerIdentity(liar.data);
    await ensureRegistered(cisClient(cis, id), id, { url: proxy.url, force: true });
    const r = await get('frank', movieId).result;
    await proxy.close();
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.from[liar.peerId] ?? 0).toBe(0);
    expect(r.json.from[honest.peerId]).toBe(40);
    expect(r.json.dropped[liar.peerId]).toContain('does not match');
    expect(r.json.spent).toBe('410'); // 40 good chunks and the bad one
    await ensureRegistered(cisClient(cis, id), id, { url: liar.url, force: true });
    await audit();
  });

  it('catches a peer spending the same coins at two peers at once: both paid, the cheater charged back and frozen', async () => {
    const [, s1, s2] = peers as [unknown, (typeof peers)[number], (typeof peers)[number]];
    const cheat = peerIdentity(join(dir, 'mallory'));
    const client = cisClient(cis, cheat);
    await ensureRegistered(client, cheat, {});
    const { pay: payment } = await ownChain(
      10,
      cheat,
      (body) => client.peerBuy({ body }),
      () => Math.floor(Date.now() / 1000),
    );
    const buy = (p: { url: string }, pay: Payment) =>
      fetch(`${p.url}/p2p/files/${movieId}/chunks/0`, { headers: { [HEADERS.payment]: encodeHeader(pay) } });
    const answers = await Promise.all([buy(s1, payment(s1.peerId, 0, 1)), buy(s2, payment(s2.peerId, 0, 1))]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    // Both sellers redeem on their own (every 1 s); the CIS credits both and freezes the cheater.
    await expect
      .poll(async () => (await (await fetch(`${cis}/parties/${cheat.peerId}`)).json()).frozen, {
        timeout: 30_000,
      })
      .toBe(true);
    const st = await client.peerStatus({});
    expect(st.frozen).toBe(true);
    // alice (killed earlier) starts again from its data folder and has never met the cheater: refused.
    const alice = await peerProcess('alice', join(dir, 'alice-share'));
    const refused = await buy(alice, payment(alice.peerId, 1, 2));
    expect(
      refused.status,
      `receipt ${refused.headers.get(HEADERS.receipt)} ${refused.status === 200 ? '' : await refused.clone().text()}`,
    ).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe('peer_frozen');
    await audit();
  });

  it('cuts off a payer that stops paying at the debt threshold', async () => {
    const seller = peers[1]!;
    const me = peerIdentity(join(dir, 'grace'));
    const client = cisClient(cis, me);
    await ensureRegistered(client, me, {});
    const wallet = await openPeerWallet({
      path: join(me.dataDir, 'wallet.json'),
      peerId: me.peerId,
      signer: me.signer,
      buy: (body, key) => client.peerBuy({ body, key }),
    });
    await wallet.buy(10n, 20);
    const chunk = async (k: number, o: { pay?: bigint; tab?: string }) => {
      const headers: Record<string, string> = {};
      if (o.pay) headers[HEADERS.payment] = encodeHeader(await wallet.pay(seller.peerId, o.pay));
      if (o.tab) headers[TAB_HEADER] = o.tab;
      return fetch(`${seller.url}/p2p/files/${movieId}/chunks/${k}`, { headers });
    };
    expect((await chunk(0, { pay: 10n })).status).toBe(200);
    const chainId = wallet.chains()[0]!.chainId;
    // The default threshold: 4 chunks.
    for (const k of [1, 2, 3, 4]) expect((await chunk(k, { tab: chainId })).status).toBe(200);
    const cut = await chunk(5, { tab: chainId });
    expect(cut.status).toBe(402);
    expect(((await cut.json()) as { code: string }).code).toBe('debt_limit');
    await wallet.close();
    await audit();
  });

  it('stops, and says why, when it cannot start (the port is taken)', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = String((busy.address() as AddressInfo).port);
    const data = join(dir, 'ivan');
    seedPgliteDataDir(join(data, 'db'));
    const run = start([
      'peer',
      'start',
      '--port',
      port,
      '--share',
      join(dir, 'bob-share'),
      '--cis',
      cis,
      '--data',
      data,
    ]);
    const { code } = await run.exit; // a start that fails leaves nothing open that would keep it running
    busy.close();
    expect(code).not.toBe(0);
    expect(run.stderr()).toMatch(/in use/);
  });

  it('lets a free rider buy coins only up to its allowance', async () => {
    // henry never shares; its allowance is the free 200,000, and it has already bought what dave bought
    const me = peerIdentity(join(dir, 'henry'));
    const client = cisClient(cis, me);
    await ensureRegistered(client, me, {});
    const chain = clientChain(20_000);
    const refused = await client
      .peerBuy({
        body: { chains: [{ coinValue: '10', n: 20_001, chainId: chain.chainId, root: chain.root }] },
      })
      .catch((e: { code: string }) => e.code);
    expect(refused).toBe('fairness_limit');
    const ok = await client.peerBuy({
      body: { chains: [{ coinValue: '10', n: 20_000, chainId: chain.chainId, root: chain.root }] },
    });
    expect(ok.chains).toHaveLength(1);
    expect((await client.peerStatus({})).remaining).toBe('0');
    // A download needing more coins now fails with the reason, and pays nothing.
    const r = await get('henry', movieId).result;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('allowance');
    await audit();
  });
});
