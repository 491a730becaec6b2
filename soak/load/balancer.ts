/**
 * A TCP round-robin balancer in front of several broker processes, as a deployment puts its brokers
 * behind one address: every wallet and vendor knows the broker by this one URL (it is the URL in the
 * vendors' terms, which wallets check), and each new connection goes to the next broker in turn. It counts
 * the connections each broker got. Bytes are piped as they are (no HTTP parsing).
 */
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

export interface Balancer {
  readonly url: string;
  /** Connections handed to each backend so far, in the order of `backends`. */
  readonly connections: () => number[];
  close(): Promise<void>;
}

export async function startBalancer(backends: readonly string[]): Promise<Balancer> {
  const targets = backends.map((u) => new URL(u));
  const counts = targets.map(() => 0);
  const sockets = new Set<Socket>();
  let next = 0;
  const server = createServer((client) => {
    const k = next++ % targets.length;
    counts[k]!++;
    const t = targets[k]!;
    const upstream = connect({ host: t.hostname, port: Number(t.port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => [...counts],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
