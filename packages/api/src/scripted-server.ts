/**
 * For the client tests (client.test.ts, client-node.test.ts): a server on loopback that answers what the
 * test sets in `next` (after `waitMs`, if set), records the last request in `seen`, and counts the
 * connections it accepted. Not part of the package's API.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedAnswer {
  readonly status: number;
  readonly body: string;
  readonly type?: string;
  readonly waitMs?: number;
}

export interface SeenRequest {
  readonly method?: string;
  readonly url?: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export async function scriptedServer() {
  const script = {
    /** `http://127.0.0.1:port`, no trailing slash. */
    url: '',
    next: { status: 200, body: '{}' } as ScriptedAnswer,
    seen: undefined as unknown as SeenRequest,
    connections: 0,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      script.seen = { method: req.method, url: req.url, headers: req.headers, body };
      const { status, type, body: answer, waitMs } = script.next;
      const send = () => {
        res.writeHead(status, { 'content-type': type ?? 'application/json' });
        res.end(answer);
      };
      if (waitMs) setTimeout(send, waitMs);
      else send();
    });
  });
  server.on('connection', () => script.connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  script.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return script;
}
