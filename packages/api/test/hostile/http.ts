/**
 * A bare HTTP/1.1 client over a TCP socket, for requests no well-behaved client sends: any bytes in the
 * path, the headers and the body, any content type, no content type at all. One connection per request
 * (`Connection: close`), bounded by a timeout: a server that does not answer in time is a hang.
 */
import { connect } from 'node:net';

export interface RawRequest {
  readonly method: string;
  /** Path and query, sent as given (already percent-encoded where the case wants it). */
  readonly target: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}

export type RawAnswer =
  | {
      readonly kind: 'answer';
      readonly status: number;
      readonly headers: Record<string, string>;
      readonly body: string;
    }
  | { readonly kind: 'timeout' }
  /** The server closed or reset the connection without a status line. */
  | { readonly kind: 'closed'; readonly error: string };

/** Decodes a chunked body (enough for test answers: no trailers). */
function unchunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < raw.length) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = Number.parseInt(raw.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

function parse(raw: Buffer): RawAnswer {
  const end = raw.indexOf('\r\n\r\n');
  const head = (end < 0 ? raw : raw.subarray(0, end)).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  if (!m) return { kind: 'closed', error: `no status line (${raw.length} bytes)` };
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const rest = end < 0 ? Buffer.alloc(0) : raw.subarray(end + 4);
  const body = headers['transfer-encoding'] === 'chunked' ? unchunk(rest) : rest;
  return { kind: 'answer', status: Number(m[1]), headers, body: body.toString('utf8') };
}

/** Sends one request and reads the answer until the server closes the connection (or the timeout). */
export function sendRaw(base: string, req: RawRequest, timeoutMs: number): Promise<RawAnswer> {
  const url = new URL(base);
  const body = req.body ?? Buffer.alloc(0);
  const lines = [`${req.method} ${req.target} HTTP/1.1`, `host: ${url.host}`, 'connection: close'];
  for (const [k, v] of Object.entries(req.headers)) lines.push(`${k}: ${v}`);
  if (req.body !== undefined && !('content-length' in req.headers))
    lines.push(`content-length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (a: RawAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(a);
    };
    const received = () => parse(Buffer.concat(chunks));
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => finish(received()));
    socket.on('close', () => finish(received()));
    // A server may answer (413) and close before it read the whole body: keep what it said.
    socket.on('error', (e) => {
      const a = received();
      finish(a.kind === 'answer' ? a : { kind: 'closed', error: e.message });
    });
    socket.on('connect', () => {
      socket.write(head);
      if (body.length > 0) socket.write(body);
    });
  });
}
