// What every in-process stand-in (dynalite, kinesalite) shares: the client settings pointed at it and
// how its server is closed.
import type { Server } from 'node:http';

/** Fake credentials, us-east-1, and no SDK retries: retries would hide the races and failures the tests are about. */
export function localClientConfig(endpoint: string) {
  return { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 } as const;
}

/** Closes the server, dropping keep-alive sockets first (they would hold close() open). */
export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
