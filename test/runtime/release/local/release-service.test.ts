import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLocalFleet, freePorts, httpGet, killQuietly, type LocalFleet, RELEASE_SERVICE } from '../../../helpers/local-fleet.ts';

let fleet: LocalFleet;
const running: ChildProcess[] = [];

beforeAll(async () => {
  fleet = await createLocalFleet({ targets: 0 });
});

afterEach(() => {
  for (const child of running.splice(0)) if (child.pid !== undefined && child.exitCode === null) killQuietly(child.pid);
});

afterAll(async () => {
  await fleet?.cleanup();
});

interface RunningService {
  readonly child: ChildProcess;
  readonly port: number;
  /** stdout lines so far. */
  readonly lines: string[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** Resolves with the first line containing `event`. */
  waitFor(event: string): Promise<string>;
}

async function startService(version: string): Promise<RunningService> {
  const [port] = await freePorts(1);
  const child = spawn(process.execPath, [RELEASE_SERVICE], {
    cwd: `${fleet.config.releasesDir}/${version}`,
    env: { ...process.env, PORT: String(port), SLUICE_VERSION: version },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const lines: string[] = [];
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => lines.push(...chunk.split('\n').filter((line) => line !== '')));
  const waitFor = async (event: string): Promise<string> => {
    for (;;) {
      const line = lines.find((each) => each.split(' ')[1] === event);
      if (line) return line;
      if (child.exitCode !== null) throw new Error(`service exited without logging ${event}: ${lines.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  await waitFor('started');
  return { child, port: port!, lines, exited, waitFor };
}

function timeOf(line: string): number {
  return Date.parse(line.split(' ')[0]!);
}

/** A raw connection, for requests the test sends in parts. */
async function rawConnection(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<unknown> }> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const closed = once(socket, 'close');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  return { socket, received: () => received, closed };
}

describe('release service', () => {
  it('reports its version on /health and greets on any other path', async () => {
    const service = await startService('v1');

    const health = await httpGet(service.port, '/health');
    const greeting = await httpGet(service.port, '/orders/42');

    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok', version: 'v1' });
    expect(greeting).toMatchObject({ status: 200, body: 'hello from v1' });
    expect(service.lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z started version=v1 port=\d+ pid=\d+$/);
  });

  it('serves a bad version but never reports it healthy', async () => {
    const service = await startService('bad');

    const health = await httpGet(service.port, '/health');

    expect(health.status).toBe(503);
    expect(JSON.parse(health.body)).toEqual({ status: 'unhealthy', version: 'bad' });
    expect((await httpGet(service.port, '/')).body).toBe('hello from bad');
  });

  it('on SIGTERM finishes the request in flight, refuses new connections, then exits 0', async () => {
    const service = await startService('v1');
    const inFlight = httpGet(service.port, '/slow?delay=700');
    await new Promise((resolve) => setTimeout(resolve, 150));

    service.child.kill('SIGTERM');
    const stopping = await service.waitFor('stopping');
    await expect(httpGet(service.port, '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const answer = await inFlight;
    const exitCode = await service.exited;

    expect(answer).toMatchObject({ status: 200, body: 'hello from v1', headers: { connection: 'close' } });
    expect(exitCode).toBe(0);
    const stopped = await service.waitFor('stopped');
    expect(timeOf(stopped) - timeOf(stopping)).toBeGreaterThanOrEqual(400);
  });

  it('closes idle keep-alive connections at once and answers health with 503 while stopping', async () => {
    const service = await startService('v1');
    const idle = await rawConnection(service.port);
    idle.socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const inFlight = httpGet(service.port, '/slow?delay=500');
    // A health check whose request is still arriving when the stop begins: its connection is busy, not idle.
    const checker = await rawConnection(service.port);
    checker.socket.write('GET /health HTTP/1.1\r\nHost: localhost\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));

    service.child.kill('SIGTERM');
    await service.waitFor('stopping');
    await idle.closed;
    checker.socket.write('\r\n');
    await checker.closed;
    await inFlight;
    expect(await service.exited).toBe(0);

    expect(idle.received()).toContain('hello from v1');
    expect(checker.received()).toMatch(/^HTTP\/1\.1 503 /);
    expect(checker.received()).toMatch(/connection: close/i);
    expect(checker.received()).toContain('{"status":"stopping","version":"v1"}');
  });
});
