import { Agent, request } from 'node:http';

export interface LoadResult {
  readonly requests: number;
  readonly failed: number;
  /** The first few failures, to say what went wrong. */
  readonly failures: string[];
  /** Responses per body prefix (e.g. `hello from 2.0.0`): which versions served. */
  readonly served: Record<string, number>;
}

/**
 * A bounded load: `concurrency` keep-alive clients sending GET `path` to 127.0.0.1:`port` back to
 * back until stopped (or `maxRequests` in all). A request fails on a connection error or a non-2xx.
 */
export function startLoad(options: { port: number; concurrency?: number; path?: string; maxRequests?: number }): { stop(): Promise<LoadResult> } {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency ?? 8 });
  const maxRequests = options.maxRequests ?? 1_000_000;
  let stopping = false;
  let requests = 0;
  let failed = 0;
  const failures: string[] = [];
  const served: Record<string, number> = {};

  const fail = (why: string) => {
    failed += 1;
    if (failures.length < 10) failures.push(why);
  };
  const once = () =>
    new Promise<void>((resolve) => {
      requests += 1;
      const req = request({ host: '127.0.0.1', port: options.port, path: options.path ?? '/', agent, timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => {
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) fail(`HTTP ${res.statusCode}: ${body.slice(0, 80)}`);
          else served[body.trim()] = (served[body.trim()] ?? 0) + 1;
          resolve();
        });
        res.on('error', (error) => {
          fail(`response error: ${error.message}`);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timed out after 10 s')));
      req.on('error', (error) => {
        fail(`request error: ${error.message}`);
        resolve();
      });
      req.end();
    });
  const client = async () => {
    while (!stopping && requests < maxRequests) await once();
  };
  const clients = Array.from({ length: options.concurrency ?? 8 }, client);
  return {
    async stop() {
      stopping = true;
      await Promise.all(clients);
      agent.destroy();
      return { requests, failed, failures, served };
    },
  };
}
