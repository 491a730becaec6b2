/**
 * What a stranger does: the packages made by `npm pack`, installed with `npm install` in a fresh folder
 * outside the repository (real folders in node_modules, no workspace links, plain `node`, no TypeScript),
 * and docs/quickstart.md run exactly as written, block by block (its first comment says how the blocks are
 * read; only the tarballs for the @netpay/… names and free ports for 4100/4200/4300 are put in). Then, from
 * the same install: a Fastify shop paid by the quickstart's client, and `npx netpay demo --port 0 --json`
 * with its pages loading the web package's `netpay.js` in chromium.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../../tools/chromium.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const QUICKSTART = join(REPO, 'docs', 'quickstart.md');
const INSTALL_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline'];
/** The ports the page names, each given a free one. */
const PAGE_PORTS = ['4100', '4200', '4300'] as const;

// --- The page ------------------------------------------------------------------------------------------

type Block =
  | { readonly kind: 'run' | 'server'; readonly code: string }
  | { readonly kind: 'file'; readonly file: string; readonly code: string };

/** The page's blocks in order, read as its first comment says. */
function blocksOf(markdown: string): Block[] {
  const blocks: Block[] = [];
  const text = markdown.replace(/<!--[\s\S]*?-->/g, '');
  for (const m of text.matchAll(/^```([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm)) {
    const [lang, ...meta] = m[1]!.trim().split(/\s+/);
    const code = m[2]!;
    const file = /^(?:\/\/|#)\s*([\w.-]+\.[a-z]+)\s*$/.exec(code.split('\n')[0]!)?.[1];
    if (file) blocks.push({ kind: 'file', file, code });
    else if (lang === 'sh') blocks.push({ kind: meta.includes('server') ? 'server' : 'run', code });
    else if (lang !== 'text')
      throw new Error(`quickstart.md: a \`\`\`${m[1]} block that is neither run nor text`);
  }
  return blocks;
}

/** Every @netpay/… name the page installs. */
const installedNames = (blocks: Block[]) =>
  blocks.flatMap((b) =>
    b.kind === 'run'
      ? [...b.code.matchAll(/^npm install .*$/gm)].flatMap((l) => l[0].match(/@netpay\/[\w-]+/g) ?? [])
      : [],
  );

/** The page's code with the tarballs in its `npm install` lines and free ports for the page's. */
function substitute(code: string, tarballs: string[], ports: Record<string, number>): string {
  const withPorts = code.replace(new RegExp(`\\b(${PAGE_PORTS.join('|')})\\b`, 'g'), (p) => String(ports[p]));
  return withPorts.replace(/^npm install (.*)$/gm, (line, args: string) => {
    const words = args.trim().split(/\s+/);
    if (!words.some((w) => w.startsWith('@netpay/'))) return line;
    return [
      'npm install',
      ...tarballs,
      ...words.filter((w) => !w.startsWith('@netpay/')),
      ...INSTALL_FLAGS,
    ].join(' ');
  });
}

// --- The workspace's packages --------------------------------------------------------------------------

interface Workspace {
  readonly dir: string;
  readonly json: {
    name: string;
    private?: boolean;
    bin?: Record<string, string>;
    exports?: Record<string, unknown>;
    dependencies?: Record<string, string>;
  };
}

const workspaces = (): Map<string, Workspace> =>
  new Map(
    readdirSync(join(REPO, 'packages'))
      .filter((d) => existsSync(join(REPO, 'packages', d, 'package.json')))
      .map((d) => {
        const json = JSON.parse(readFileSync(join(REPO, 'packages', d, 'package.json'), 'utf8'));
        return [json.name, { dir: join(REPO, 'packages', d), json }] as const;
      }),
  );

/** The named packages and every @netpay package they depend on at run time. */
function runtimeClosure(names: string[], all: Map<string, Workspace>): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    const w = all.get(name);
    if (!w) throw new Error(`${name} is not a package of this repository`);
    seen.add(name);
    for (const dep of Object.keys(w.json.dependencies ?? {})) if (dep.startsWith('@netpay/')) visit(dep);
  };
  for (const n of names) visit(n);
  return [...seen].sort();
}

/** The files plain `node` loads from a package: each export's `import` target and the bin. */
function loadedFiles(w: Workspace): string[] {
  const files: string[] = Object.values(w.json.bin ?? {});
  for (const target of Object.values(w.json.exports ?? {})) {
    if (typeof target === 'string') files.push(target);
    else if (target && typeof target === 'object' && 'import' in target) files.push(String(target.import));
  }
  return files.map((f) => f.replace(/^\.\//, ''));
}

// --- Processes -----------------------------------------------------------------------------------------

/**
 * The environment of someone at a terminal: none of npm's variables from `npm test` (its prefix is this
 * repository), no NETPAY_…, DATABASE_URL, NODE_OPTIONS or NODE_ENV, and nothing of this repository on PATH.
 */
function strangerEnv(): NodeJS.ProcessEnv {
  const keepNpm =
    /^npm_config_(registry|cache|userconfig|globalconfig|https?_proxy|proxy|noproxy|strict_ssl|cafile)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^npm_/i.test(k) && !keepNpm.test(k)) continue;
    if (/^(NETPAY_|VITEST|VITE_|TSX_)/.test(k)) continue;
    if (['DATABASE_URL', 'NODE_OPTIONS', 'NODE_ENV', 'INIT_CWD', 'TEST'].includes(k)) continue;
    env[k] = v;
  }
  const path = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => p && !p.startsWith(REPO) && !p.split(sep).includes('node_modules'));
  env.PATH = [dirname(process.execPath), ...path].join(delimiter);
  return env;
}

interface Proc {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly stdout: () => string;
  readonly exited: Promise<number | null>;
}

const running: Proc[] = [];

/** Runs bash with `code` in `cwd`, in a process group of its own (stopped with everything it started). */
function bash(code: string, cwd: string, env: NodeJS.ProcessEnv): Proc {
  const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', code], {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let all = '';
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    all += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    all += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const proc = { child, output: () => all, stdout: () => out, exited };
  running.push(proc);
  return proc;
}

const killGroup = (p: Proc, signal: NodeJS.Signals) => {
  try {
    process.kill(-p.child.pid!, signal);
  } catch {
    // already gone
  }
};

/** SIGTERM to the process group, SIGKILL to whatever is left after 10 s; nothing once it has ended. */
async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  killGroup(p, 'SIGTERM');
  await Promise.race([p.exited, new Promise((r) => setTimeout(r, 10_000))]);
  killGroup(p, 'SIGKILL');
  await Promise.race([p.exited, new Promise((r) => setTimeout(r, 5_000))]);
}

/** Runs a block to its end; fails with its output when it fails or takes longer than `timeoutMs`. */
async function runToEnd(
  code: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<string> {
  const p = bash(code, cwd, env);
  let timer: NodeJS.Timeout | undefined;
  const status = await Promise.race([
    p.exited,
    new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (status === 'timeout') await stop(p);
  if (status !== 0)
    throw new Error(
      `this block ${status === 'timeout' ? 'timed out' : `exited ${status}`}:\n${code}\n--- its output:\n${p.output()}`,
    );
  return p.output();
}

/** Starts a server block and waits until its output names an http:// URL (or the first line, for JSON). */
async function startServer(
  code: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  timeoutMs = 120_000,
) {
  const p = bash(code, cwd, env);
  const deadline = Date.now() + timeoutMs;
  while (!ready.test(p.stdout())) {
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      throw new Error(`this server stopped:\n${code}\n--- its output:\n${p.output()}`);
    if (Date.now() > deadline)
      throw new Error(
        `this server did not start in ${timeoutMs} ms:\n${code}\n--- its output:\n${p.output()}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
  return p;
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// --- The test --------------------------------------------------------------------------------------------

describe('docs/quickstart.md, run by a stranger from the packed packages', () => {
  const root = mkdtempSync(join(tmpdir(), 'netpay-quickstart-'));
  const packs = join(root, 'packs');
  const env = strangerEnv();
  const page = readFileSync(QUICKSTART, 'utf8');
  const blocks = blocksOf(page);
  let tarballs: string[] = [];
  let ports: Record<string, number> = {};
  let project = '';
  /** Each run block's output, by the block's code (after substitution). */
  const outputs = new Map<string, string>();
  const outputOf = (needle: string) => {
    const found = [...outputs].find(([code]) => code.includes(needle));
    if (!found) throw new Error(`no block of the quickstart runs \`${needle}\``);
    return found[1];
  };
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    await Promise.all(running.map(stop));
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('packs every package the page installs and what they need at run time, with every file node loads', {
    timeout: 600_000,
  }, async () => {
    const all = workspaces();
    const names = runtimeClosure(installedNames(blocks), all);
    expect(names).toEqual(
      expect.arrayContaining(['@netpay/cli', '@netpay/vendor', '@netpay/wallet', '@netpay/x402']),
    );
    for (const n of names) expect(all.get(n)!.json.private, n).toBeFalsy();
    // `npm install` builds dist/ (prepare), but sources may have changed since: build again (incremental)
    // so the tarballs hold what the sources say.
    {
      const built = spawnSync('npm', ['run', 'build'], {
        cwd: REPO,
        env,
        encoding: 'utf8',
        timeout: 600_000,
      });
      expect(built.status, `${built.stdout}\n${built.stderr}`).toBe(0);
    }
    mkdirSync(packs);
    const packed = spawnSync(
      'npm',
      ['pack', ...names.flatMap((n) => ['-w', n]), '--pack-destination', packs, '--json'],
      { cwd: REPO, env, encoding: 'utf8', timeout: 120_000 },
    );
    expect(packed.status, packed.stderr).toBe(0);
    const made = JSON.parse(packed.stdout) as { name: string; filename: string; files: { path: string }[] }[];
    expect(made.map((m) => m.name).sort()).toEqual(names);
    for (const m of made) {
      const inTarball = new Set(m.files.map((f) => f.path));
      for (const f of loadedFiles(all.get(m.name)!)) expect(inTarball.has(f), `${m.name}: ${f}`).toBe(true);
      expect(inTarball.has('README.md'), `${m.name}: README.md`).toBe(true);
    }
    tarballs = made.map((m) => join(packs, m.filename));
    const free = await freePorts(PAGE_PORTS.length);
    ports = Object.fromEntries(PAGE_PORTS.map((p, i) => [p, free[i]!]));
  });

  it('runs every block of the page as written: the client pays the Express shop, and x402 pays it too', {
    timeout: 600_000,
  }, async () => {
    expect(tarballs.length).toBeGreaterThan(0);
    expect(blocks[0]?.kind).toBe('run');
    // The first block makes the folder and enters it; the rest run there.
    const folder = /^mkdir (\S+) && cd \1$/m.exec(blocks[0]!.code)?.[1];
    expect(folder, 'the first block: mkdir <folder> && cd <folder>').toBeTruthy();
    project = join(root, folder!);
    for (const [i, block] of blocks.entries()) {
      const code = substitute(block.code, tarballs, ports);
      if (block.kind === 'file') writeFileSync(join(project, block.file), code);
      else if (block.kind === 'server') await startServer(code, project, env, /http:\/\//);
      else outputs.set(code, await runToEnd(code, i === 0 ? root : project, env, 300_000));
      if (i === 0) {
        // A real install: every @netpay package a real folder (no workspace link), the bin the packed one.
        for (const name of readdirSync(join(project, 'node_modules', '@netpay'))) {
          const dir = join(project, 'node_modules', '@netpay', name);
          expect(lstatSync(dir).isSymbolicLink(), dir).toBe(false);
          expect(realpathSync(dir).startsWith(project), dir).toBe(true);
        }
        expect(lstatSync(join(project, 'node_modules', '@netpay', 'vendor')).isDirectory()).toBe(true);
        expect(realpathSync(join(project, 'node_modules', '.bin', 'netpay'))).toBe(
          join(project, 'node_modules', '@netpay', 'cli', 'bin', 'netpay.mjs'),
        );
      }
    }
    // Unpaid: 402 with the terms.
    expect(outputOf('curl -i ')).toMatch(/^HTTP\/1\.1 402/m);
    expect(outputOf('curl -i ')).toMatch(/^netpay-terms: /im);
    // The customer's coins.
    expect(outputOf('wallet buy')).toContain('Bought 1 chain(s) of 1000 coins worth 0.0010 USD');
    // Paid: 200, the joke and the receipt.
    const paid = outputOf('node client.mjs');
    expect(paid).toMatch(/^200 \{ joke: /m);
    expect(paid).toContain('paid 50n receipt');
    expect(paid).toContain("vendorId: 'my-shop'");
    // The shop took it.
    const sales = JSON.parse(outputOf('/sales'));
    expect(sales).toMatchObject({ vendorId: 'my-shop', accepted: '50', missing: '0' });
    // Through x402: 200 and x402's payment response, whose transaction is the NetPay receipt.
    const x402 = outputOf('node x402-client.mjs');
    expect(x402).toMatch(/^200 \{ joke: /m);
    expect(x402).toContain('success: true');
    expect(x402).toMatch(/network: 'netpay:/);
    const shopSales = await (await fetch(`http://127.0.0.1:${ports['4300']}/sales`)).json();
    expect(shopSales).toMatchObject({ accepted: '100', missing: '0' });
  });

  it('sells through the Fastify adapter too, paid by the quickstart client from the same chain (a hand-over)', {
    timeout: 300_000,
  }, async () => {
    expect(project).not.toBe('');
    await runToEnd(`npm install fastify ${INSTALL_FLAGS.join(' ')}`, project, env, 300_000);
    const [port] = await freePorts(1);
    const broker = `http://127.0.0.1:${ports['4200']}`;
    writeFileSync(
      join(project, 'fastify-shop.mjs'),
      `import { netpayFastify } from '@netpay/vendor/fastify';
import { openVendor } from '@netpay/vendor/server';
import Fastify from 'fastify';

const shop = await openVendor({ vendorId: 'my-fastify-shop', brokerUrl: '${broker}', currency: { code: 'USD', exponent: 4 }, dataDir: '.netpay/fastify-shop' });
const publicKey = Buffer.from(shop.signer.publicKey).toString('base64url');
await shop.broker.register({ id: 'my-fastify-shop', kind: 'vendor', name: 'My Fastify shop', publicKey, url: 'http://127.0.0.1:${port}' });
shop.redeemer.start(60_000);

const app = Fastify();
netpayFastify(app, shop.gate); // also serves POST /netpay/handover
app.get('/joke', { config: { netpay: { amount: 50n } } }, async () => ({ joke: 'Fastify, half a cent.' }));
app.get('/sales', async () => shop.redeemer.statement());
await app.listen({ port: ${port}, host: '127.0.0.1' });
console.log('fastify shop at http://127.0.0.1:${port}/joke');
`,
    );
    await startServer('node fastify-shop.mjs', project, env, /http:\/\//);
    const expressJoke = `http://127.0.0.1:${ports['4300']}/joke`;
    const client = readFileSync(join(project, 'client.mjs'), 'utf8');
    expect(client).toContain(expressJoke);
    writeFileSync(
      join(project, 'fastify-client.mjs'),
      client.replace(expressJoke, `http://127.0.0.1:${port}/joke`),
    );
    const paid = await runToEnd('node fastify-client.mjs', project, env, 120_000);
    expect(paid).toMatch(/^200 \{ joke: 'Fastify, half a cent.' \}/m);
    expect(paid).toContain("vendorId: 'my-fastify-shop'");
    expect(await (await fetch(`http://127.0.0.1:${port}/sales`)).json()).toMatchObject({ accepted: '50' });
    // The Express shop handed the chain over and keeps what it took.
    expect(await (await fetch(`${expressJoke.replace('/joke', '/sales')}`)).json()).toMatchObject({
      accepted: '100',
      missing: '0',
    });
    // The quickstart's servers are done: the demo below runs alone.
    await Promise.all(running.map(stop));
  });

  it('starts `npx netpay demo --port 0 --json`, and its pages load netpay.js in chromium without errors', {
    timeout: 300_000,
  }, async () => {
    expect(project).not.toBe('');
    const executablePath = ensureChromium();
    const demo = await startServer('npx netpay demo --port 0 --json', project, env, /\n/, 180_000);
    const info = JSON.parse(demo.stdout().split('\n')[0]!) as { urls: Record<string, string> };
    const { wallet, greetings } = info.urls as { wallet: string; greetings: string };
    // The script is the installed @netpay/web's (as built into dist/app, or its source in public/).
    const script = await (await fetch(`${wallet}/netpay.js`)).text();
    const installed = ['dist/app/netpay.js', 'public/netpay.js']
      .map((f) => join(project, 'node_modules', '@netpay', 'web', f))
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f, 'utf8'));
    expect(installed).toContain(script);

    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    // (A request cut short by the next navigation is net::ERR_ABORTED: not an error of the page.)
    tab.on('requestfailed', (r) => {
      if (r.failure()?.errorText !== 'net::ERR_ABORTED')
        errors.push(`failed: ${r.url()} ${r.failure()?.errorText}`);
    });
    tab.on('response', (r) => {
      if (r.status() >= 400 && r.status() !== 402) errors.push(`${r.status()} ${r.url()}`);
    });
    await tab.goto(`${greetings}/`);
    expect(await tab.evaluate(() => typeof (window as { NetPay?: { fetch?: unknown } }).NetPay?.fetch)).toBe(
      'function',
    );
    // NetPay.fetch on a priced card: the wallet's frame (pay.html, as the installed @netpay/web ships it built)
    // answers that this browser's wallet has no coins.
    const refused = await tab.evaluate(async () => {
      try {
        const res = await (
          window as unknown as { NetPay: { fetch: (u: string) => Promise<Response> } }
        ).NetPay.fetch('/cards/birthday.html');
        return { status: res.status };
      } catch (e) {
        return { code: (e as { code?: string }).code };
      }
    });
    expect(refused).toEqual({ code: 'no_coins' });
    // The web wallet itself.
    await tab.goto(`${wallet}/`);
    await expect.poll(() => tab.textContent('body')).toContain('Create account');
    expect(errors).toEqual([]);
    await stop(demo);
    expect(demo.child.exitCode !== null || demo.child.signalCode !== null).toBe(true);
  });
});
