/**
 * What the long-running commands (`bank`, `broker`, `vendor start`, `demo`) share: a graceful stop on
 * SIGINT or SIGTERM, DATABASE_URL, start errors the user can fix, and running a service until stopped.
 */
import { cliError } from './errors.ts';
import { DatabaseUrlSchema, redactUrl } from './options.ts';

/** Graceful stop for long-running commands: the first SIGINT or SIGTERM closes services cleanly. */
export interface StopListener {
  /** Resolves on the first SIGINT or SIGTERM; a second one gets Node's default (immediate exit). */
  readonly signal: Promise<NodeJS.Signals>;
  requested(): boolean;
  dispose(): void;
}

export function listenForStop(): StopListener {
  let received: NodeJS.Signals | undefined;
  let resolve!: (signal: NodeJS.Signals) => void;
  const signal = new Promise<NodeJS.Signals>((r) => {
    resolve = r;
  });
  const dispose = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  function onSignal(sig: NodeJS.Signals) {
    received = sig;
    dispose();
    resolve(sig);
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { signal, requested: () => received !== undefined, dispose };
}

/** DATABASE_URL when set (validated); refuses --data beside it, since one or the other holds the data. */
export function databaseFromEnv(dataFlag: string | undefined): string | undefined {
  const envUrl = process.env.DATABASE_URL?.trim() || undefined;
  if (envUrl === undefined) return undefined;
  const parsed = DatabaseUrlSchema.safeParse(envUrl);
  if (!parsed.success) throw cliError(parsed.error.issues[0]?.message ?? 'DATABASE_URL is malformed');
  if (dataFlag !== undefined) {
    throw cliError('--data is the embedded database folder; unset DATABASE_URL to use it, or drop --data');
  }
  return parsed.data;
}

export interface StartContext {
  readonly service: string;
  readonly host: string;
  readonly port: number;
  readonly data?: string | undefined;
  readonly databaseUrl?: string | undefined;
}

/** Turns what the user can fix (port taken, database unreachable, bad config) into a cli_usage NetPayError. */
export function explainStartError(e: unknown, c: StartContext): unknown {
  const code = (e as { code?: unknown })?.code;
  const message = e instanceof Error ? e.message : String(e);
  const where = `${c.host}:${c.port}`;
  if (code === 'EADDRINUSE') return cliError(`${where} is already in use (try another --port, or --port 0)`);
  if (code === 'EACCES' && (e as { syscall?: unknown }).syscall === 'listen') {
    return cliError(`no permission to listen on ${where} (ports below 1024 need privileges)`);
  }
  if (
    code === 'EADDRNOTAVAIL' ||
    (code === 'ENOTFOUND' && (e as { syscall?: unknown }).syscall === 'getaddrinfo' && !c.databaseUrl)
  ) {
    return cliError(`cannot listen on ${c.host}: no such local address`);
  }
  if (/ConfigError$/.test((e as Error)?.name ?? '') || /\bconfig: /.test(message)) return cliError(message);
  if (c.databaseUrl !== undefined) {
    return cliError(`cannot use the PostgreSQL database at ${redactUrl(c.databaseUrl)}: ${message}`);
  }
  if (
    typeof code === 'string' &&
    ['EACCES', 'EPERM', 'ENOENT', 'ENOTDIR', 'EROFS', 'ENOSPC', 'EEXIST'].includes(code)
  ) {
    return cliError(`cannot use the data folder ${c.data ?? `./.netpay/${c.service}`}: ${message}`);
  }
  return e;
}

/** What a `… start` command says once its service listens: one JSON line with --json, else its text. */
export interface Announcement {
  readonly json: Record<string, unknown>;
  readonly text: string;
}

/**
 * Runs a service until Ctrl-C or SIGTERM, as every `netpay … start` does. It listens for the stop from the
 * start, so a stop during start-up (PGlite's first run takes seconds) still closes the database cleanly
 * instead of killing the process mid-write; a start error the user can fix becomes one line; it says where
 * the service listens (nothing when stopped while starting: that URL is about to go away); on the signal it
 * closes the service.
 */
export async function serveUntilStopped<T extends { close(): Promise<void> }>(o: {
  readonly context: StartContext;
  readonly json: boolean | undefined;
  /** Starts the service; `signal` aborts on a stop while it starts (e.g. waiting for another service). */
  readonly start: (signal: AbortSignal) => Promise<T>;
  readonly announce: (running: T) => Announcement;
  /** Said on stderr once the service is closed (not with --json). */
  readonly closed?: string;
}): Promise<void> {
  const stop = listenForStop();
  const starting = new AbortController();
  void stop.signal.then(() => starting.abort());
  try {
    const running = await o.start(starting.signal).catch((e: unknown) => {
      throw explainStartError(e, o.context);
    });
    if (!stop.requested()) {
      const said = o.announce(running);
      process.stdout.write(o.json ? `${JSON.stringify(said.json)}\n` : said.text);
    }
    const signal = await stop.signal;
    if (!o.json) process.stderr.write(`${signal}: stopping the ${o.context.service}…\n`);
    await running.close();
    if (!o.json && o.closed) process.stderr.write(o.closed);
  } finally {
    stop.dispose();
  }
}
