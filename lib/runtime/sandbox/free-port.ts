// Free loopback ports, for the servers that cannot report the ephemeral port they were given
// (HAProxy, PostgreSQL, the services a local targets file names): the kernel picks them, they are
// released, and the caller binds them a moment later. Another process may race for one, rarely;
// the callers that can retry do.
import { createServer, type Server } from 'node:net';

/** A port nothing listens on right now (bound to 127.0.0.1:0, then released). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/** `count` distinct ports free on 127.0.0.1 right now: all are held until every one is picked. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<Server>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('could not find a free port');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
