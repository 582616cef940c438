// The external API of the sandbox: the worker's handler POSTs every job it processes to
// EXTERNAL_API_URL (see app/work-handler.ts), with the SQS message id as its Idempotency-Key. This
// stand-in answers 200 and counts deliveries per key, which is how the demo knows that every job
// the web app accepted was processed, and how many were processed twice (SQS delivers at least once).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from './local-endpoint.ts';

export interface JobSink {
  /** `http://127.0.0.1:<port>/jobs`: the worker's EXTERNAL_API_URL. */
  readonly url: string;
  /** Deliveries per Idempotency-Key (message id), in the order keys first arrived. */
  deliveries(): ReadonlyMap<string, number>;
  stop(): Promise<void>;
}

export async function startJobSink(): Promise<JobSink> {
  const deliveries = new Map<string, number>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    // Drain the body: the handler waits for the answer, and the answer waits for the upload.
    request.resume();
    request.on('end', () => {
      const key = request.headers['idempotency-key'];
      if (request.method !== 'POST' || typeof key !== 'string' || key === '') {
        response.writeHead(400, { 'content-type': 'text/plain' }).end('POST a job with an Idempotency-Key header\n');
        return;
      }
      deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/jobs`,
    deliveries: () => deliveries,
    stop: () => (stopping ??= closeServer(server)),
  };
}
