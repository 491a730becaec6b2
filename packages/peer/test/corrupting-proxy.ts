/** For the P2P tests: a lying seller, as a proxy in front of a real one that flips a byte of every chunk. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A proxy in front of a seller that flips the first byte of every chunk it passes on. */
export async function corrupting(target: string) {
  const server = createServer(async (req, res) => {
    const r = await fetch(target + req.url, { headers: req.headers as Record<string, string> });
    const body = Buffer.from(await r.arrayBuffer());
    if (r.status === 200 && req.url?.includes('/chunks/')) body[0] = body[0]! ^ 0xff;
    const headers: Record<string, string> = {};
    r.headers.forEach((v, k) => {
      if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') headers[k] = v;
    });
    res.writeHead(r.status, headers).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
