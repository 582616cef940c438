import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebApp } from '../../../lib/runtime/app/web-app.ts';
import { silentLogger } from '../../../lib/runtime/json-logger.ts';

function get(port: number, path: string): Promise<{ status: number; body: string; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end();
  });
}

class SlowApp extends WebApp {
  protected override route(_request: Parameters<WebApp['route']>[0], response: Parameters<WebApp['route']>[1]): void {
    setTimeout(() => response.end('slow done'), 300);
  }
}

let app: WebApp | undefined;
afterEach(async () => {
  await app?.stop({ deadlineMs: 100 });
  app = undefined;
});

describe('WebApp', () => {
  it('reports its version on the health check and serves its routes', async () => {
    app = new WebApp({ version: 'a1b2c3d', port: 0, host: '127.0.0.1', logger: silentLogger });
    const port = await app.start();
    expect(await get(port, '/health')).toMatchObject({ status: 200, body: '{"status":"ok","version":"a1b2c3d"}' });
    expect(await get(port, '/')).toMatchObject({ status: 200, body: '{"service":"sluice","version":"a1b2c3d"}' });
    expect((await get(port, '/nope')).status).toBe(404);
  });

  it('on stop finishes the request in flight, refuses new connections, and resolves once settled', async () => {
    app = new SlowApp({ version: 'v2', port: 0, host: '127.0.0.1', logger: silentLogger });
    const port = await app.start();
    const inFlight = get(port, '/work');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopped = app.stop({ deadlineMs: 5_000 });
    expect(await inFlight).toMatchObject({ status: 200, body: 'slow done', connection: 'close' });
    await stopped;
    await expect(get(port, '/health')).rejects.toThrow(/ECONNREFUSED/);
    expect(app.stop()).toBe(stopped);
  });
});
