import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../../lib/runtime/clock.ts';
import { BadInputError, DeadlineExceededError, TargetUnhealthyError } from '../../../../lib/runtime/release/errors.ts';
import { HaproxyError, HaproxyRuntimeApi, parseShowStat } from '../../../../lib/runtime/release/haproxy/haproxy-runtime-api.ts';
import { HaproxyTargetPool, serverTargetStatus } from '../../../../lib/runtime/release/haproxy/haproxy-target-pool.ts';
import { freePort, type HaproxyServerSpec, type LocalHaproxy, requireHaproxy, startHaproxy } from '../../../helpers/haproxy.ts';

const available = requireHaproxy();

const INTER_MS = 100;

// --- tiny web servers behind HAProxy ------------------------------------------------------------

interface WebServer {
  readonly port: number;
  /** Status GET /health answers with. */
  health: number;
  /** Resolves when a GET /slow arrived; the request stays open until finishSlow(). */
  readonly slowArrived: Promise<void>;
  finishSlow(): void;
  stop(): Promise<void>;
}

async function startWebServer(name: string, health = 200): Promise<WebServer> {
  const held: ServerResponse[] = [];
  let arrived!: () => void;
  const slowArrived = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const web: { health: number } = { health };
  const server: Server = createServer((req, res) => {
    if (req.url === '/health') {
      res.statusCode = web.health;
      res.end();
    } else if (req.url === '/slow') {
      held.push(res);
      arrived();
    } else {
      res.end(`hello from ${name}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const finishSlow = () => {
    for (const res of held.splice(0)) res.end('slow done');
  };
  return Object.assign(web, {
    port,
    slowArrived,
    finishSlow,
    async stop() {
      finishSlow();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** SIGSTOP lands asynchronously: resolves once every thread of `pid` is stopped (Linux /proc). */
async function stoppedThreads(pid: number): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    const threads = await readdir(`/proc/${pid}/task`);
    const states = await Promise.all(threads.map(async (thread) => (await readFile(`/proc/${pid}/task/${thread}/stat`, 'utf8')).replace(/^.*\) /s, '')[0]));
    if (states.every((state) => state === 'T' || state === 't')) return;
    await sleep(2);
  }
  throw new Error(`haproxy ${pid} did not stop after SIGSTOP`);
}

// --- per-test HAProxy and servers, always stopped ---------------------------------------------------

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function web(name: string, health = 200): Promise<WebServer> {
  const server = await startWebServer(name, health);
  cleanups.push(() => server.stop());
  return server;
}

async function haproxy(servers: HaproxyServerSpec[], options: { rise?: number; fall?: number } = {}): Promise<LocalHaproxy> {
  const started = await startHaproxy({ backend: 'app', servers, checkIntervalMs: INTER_MS, ...options });
  cleanups.push(() => started.stop());
  return started;
}

function poolFor(proxy: LocalHaproxy, props: { drainTimeoutMs?: number; rise?: number; fall?: number } = {}): HaproxyTargetPool {
  return new HaproxyTargetPool({ api: proxy.api, backend: 'app', clock: systemClock, pollIntervalMs: 10, healthCheckIntervalMs: INTER_MS, ...props });
}

async function statusOf(proxy: LocalHaproxy, server: string): Promise<string | undefined> {
  return (await proxy.api.showStat('app')).find((row) => row.svname === server)?.status;
}

describe.skipIf(!available)('HaproxyTargetPool on a real HAProxy', () => {
  it('maps HAProxy server states onto target states', async () => {
    const [up, drained, maint, sick, unchecked] = await Promise.all([web('up'), web('drained'), web('maint'), web('sick', 503), web('unchecked')]);
    const proxy = await haproxy([
      { name: 'up', port: up.port },
      { name: 'drained', port: drained.port },
      { name: 'maint', port: maint.port },
      { name: 'sick', port: sick.port },
      { name: 'gone', port: await freePort() },
      { name: 'unchecked', port: unchecked.port, check: false },
    ]);
    await proxy.api.setServerState('app', 'drained', 'drain');
    await proxy.api.setServerState('app', 'maint', 'maint');
    await proxy.waitForStatus('sick', /^DOWN$/);
    await proxy.waitForStatus('gone', /^DOWN$/);

    expect(await poolFor(proxy).listTargets()).toEqual([
      { id: 'up', state: 'healthy' },
      { id: 'drained', state: 'draining', reasonCode: 'HAProxy.DRAIN', description: 'DRAIN' },
      { id: 'maint', state: 'unused', reasonCode: 'HAProxy.MAINT', description: 'MAINT' },
      // While the next check runs HAProxy blanks the code and text of the last one.
      { id: 'sick', state: 'unhealthy', reasonCode: 'HAProxy.L7STS', description: expect.stringMatching(/^Layer7 wrong status($| \(code 503\): Service Unavailable$)/) },
      { id: 'gone', state: 'unhealthy', reasonCode: 'HAProxy.L4CON', description: expect.stringMatching(/^Layer4 connection problem($|: Connection refused$)/) },
      { id: 'unchecked', state: 'healthy', description: 'no check: HAProxy does not health-check this server' },
    ]);
  });

  it('reads rise and fall from HAProxy for its timings, and falls back to the props when it cannot', async () => {
    const one = await web('one');
    const proxy = await haproxy([{ name: 'one', port: one.port }], { rise: 3, fall: 2 });
    const pool = poolFor(proxy, { drainTimeoutMs: 5000, rise: 4, fall: 5 });

    expect(await pool.timings()).toEqual({ drainMs: 5000, healthyMs: 3 * INTER_MS, unhealthyMs: 2 * INTER_MS });
    // In maintenance HAProxy blanks a server's check fields.
    await proxy.api.setServerState('app', 'one', 'maint');
    expect(await pool.timings()).toEqual({ drainMs: 5000, healthyMs: 4 * INTER_MS, unhealthyMs: 5 * INTER_MS });
  });

  it('deregister drains: waitDrained returns only after the in-flight request finished, and leaves the server in MAINT', async () => {
    const one = await web('one');
    const proxy = await haproxy([{ name: 'one', port: one.port }]);
    const pool = poolFor(proxy);
    const response = get(proxy.frontendPort, '/slow');
    await one.slowArrived;

    await pool.deregister('one');
    expect(await pool.listTargets()).toEqual([{ id: 'one', state: 'draining', reasonCode: 'HAProxy.DRAIN', description: 'DRAIN' }]);
    let drainedAt: number | undefined;
    const drained = pool.waitDrained('one').then(() => {
      drainedAt = Date.now();
    });
    await sleep(300);
    expect(drainedAt).toBeUndefined();
    expect((await proxy.api.showStat('app'))[0]).toMatchObject({ status: 'DRAIN', scur: 1 });

    const finishedAt = Date.now();
    one.finishSlow();
    await drained;
    expect(await response).toEqual({ status: 200, body: 'slow done' });
    expect(drainedAt).toBeGreaterThanOrEqual(finishedAt);
    expect(await statusOf(proxy, 'one')).toBe('MAINT');
    // Already in maintenance: drained at once.
    await pool.waitDrained('one');
  });

  it('waitDrained gives up at the drain timeout, naming the sessions still open, and leaves the server draining', async () => {
    const one = await web('one');
    const proxy = await haproxy([{ name: 'one', port: one.port }]);
    const pool = poolFor(proxy, { drainTimeoutMs: 300 });
    const response = get(proxy.frontendPort, '/slow');
    await one.slowArrived;
    await pool.deregister('one');

    const startedAt = Date.now();
    const error = await pool.waitDrained('one').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(error).toMatchObject({ targetId: 'one', step: 'draining', lastState: 'DRAIN, 1 session(s) still open' });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
    expect(await statusOf(proxy, 'one')).toBe('DRAIN');
    one.finishSlow();
    await response;
  });

  it('register + waitHealthy: a server leaving maintenance gets no traffic until it passed rise checks, then is UP', async () => {
    const [one, two] = await Promise.all([web('one'), web('two')]);
    const proxy = await haproxy([
      { name: 'one', port: one.port },
      { name: 'two', port: two.port },
    ]);
    const pool = poolFor(proxy);
    await proxy.api.setServerState('app', 'two', 'maint');

    await pool.register('two');
    expect((await pool.listTargets()).find((target) => target.id === 'two')).toMatchObject({ state: 'initial', reasonCode: 'HAProxy.InitialHealthChecking' });
    const seen: string[] = [];
    const watching = (async () => {
      while (seen.at(-1) !== 'UP') {
        const status = (await statusOf(proxy, 'two')) ?? '';
        if (status !== seen.at(-1)) seen.push(status);
        await sleep(2);
      }
    })();
    const startedAt = Date.now();
    await pool.waitHealthy('two');
    // rise 2: the first check comes at once, the second one interval later.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(INTER_MS / 2);
    await watching;
    // Never "UP 1/2" (HAProxy's own "start OK" on leaving maintenance): DOWN, DOWN 1/2, then UP.
    expect(seen.at(-1)).toBe('UP');
    expect(seen.slice(0, -1).every((status) => status.startsWith('DOWN'))).toBe(true);
    expect(seen).toContain('DOWN 1/2');
    const bodies = await Promise.all(Array.from({ length: 4 }, () => get(proxy.frontendPort, '/')));
    expect(new Set(bodies.map((reply) => reply.body))).toEqual(new Set(['hello from one', 'hello from two']));
  });

  it('register on a draining server puts it straight back in service (it was checked all along)', async () => {
    const one = await web('one');
    const proxy = await haproxy([{ name: 'one', port: one.port }]);
    const pool = poolFor(proxy);
    await pool.deregister('one');
    await pool.register('one');
    expect(await statusOf(proxy, 'one')).toBe('UP');
    await pool.waitHealthy('one');
  });

  it('waitHealthy throws TargetUnhealthyError HAProxy.L7STS for a server whose /health answers 503', async () => {
    const sick = await web('sick', 503);
    const proxy = await haproxy([{ name: 'sick', port: sick.port }]);
    const pool = poolFor(proxy);
    await pool.deregister('sick');
    await pool.waitDrained('sick');

    await pool.register('sick');
    const startedAt = Date.now();
    const error = await pool.waitHealthy('sick').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TargetUnhealthyError);
    expect(error).toMatchObject({ targetId: 'sick', reasonCode: 'HAProxy.L7STS', description: 'Layer7 wrong status (code 503): Service Unavailable' });
    // First check + fall (2) × inter; well before the deadline.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3 * INTER_MS);
    expect(Date.now() - startedAt).toBeLessThan(2000);
  });

  it('waitHealthy fails when something puts the server back in maintenance while it waits', async () => {
    const one = await web('one', 503);
    const proxy = await haproxy([{ name: 'one', port: one.port }]);
    const pool = poolFor(proxy);
    const waiting = pool.waitHealthy('one').catch((caught: unknown) => caught);
    await proxy.api.setServerState('app', 'one', 'maint');
    expect(await waiting).toMatchObject({ name: 'TargetUnhealthyError', reasonCode: 'HAProxy.MAINT' });
  });

  it('reports an unknown server, backend or command in HAProxy’s words, and rejects a bad name before it reaches the socket', async () => {
    const one = await web('one');
    const proxy = await haproxy([{ name: 'one', port: one.port }]);
    const pool = poolFor(proxy);

    const unknownServer = await pool.deregister('nope').catch((caught: unknown) => caught);
    expect(unknownServer).toBeInstanceOf(HaproxyError);
    expect(unknownServer).toMatchObject({ reasonCode: 'HAProxy.NoSuchServer', command: 'set server app/nope state drain' });
    expect((unknownServer as Error).message).toContain('"No such server."');
    await expect(pool.waitHealthy('nope')).rejects.toThrow(/backend app has no server "nope" \(it has: one\)/);

    const otherBackend = new HaproxyTargetPool({ api: proxy.api, backend: 'nothere', clock: systemClock });
    await expect(otherBackend.listTargets()).rejects.toMatchObject({ reasonCode: 'HAProxy.NoSuchBackend', message: expect.stringContaining('"No such proxy."') });
    await expect(proxy.api.execute('frobnicate')).rejects.toMatchObject({ reasonCode: 'HAProxy.CommandFailed', command: 'frobnicate' });

    await expect(pool.deregister('one; set server app/one state maint')).rejects.toBeInstanceOf(BadInputError);
    expect(await statusOf(proxy, 'one')).toBe('UP');
  });

  it('times out a command HAProxy does not answer', async () => {
    const one = await web('one');
    const proxy = await haproxy([{ name: 'one', port: one.port }]);
    const api = new HaproxyRuntimeApi({ socketPath: proxy.socketPath, timeoutMs: 200 });
    process.kill(proxy.pid, 'SIGSTOP');
    try {
      await stoppedThreads(proxy.pid);
      await expect(api.showInfo()).rejects.toMatchObject({ reasonCode: 'HAProxy.Timeout', message: expect.stringContaining('did not answer `show info`') });
    } finally {
      process.kill(proxy.pid, 'SIGCONT');
    }
  });
});

describe('HaproxyRuntimeApi without a running HAProxy', () => {
  it('says which socket is missing and what to check', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'sluice-haproxy-test-'));
    try {
      const missing = new HaproxyRuntimeApi({ socketPath: join(directory, 'admin.sock') });
      const pool = new HaproxyTargetPool({ api: missing, backend: 'app', clock: systemClock });
      const error = await pool.listTargets().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(HaproxyError);
      expect(error).toMatchObject({ reasonCode: 'HAProxy.SocketUnavailable', socketPath: join(directory, 'admin.sock') });
      expect((error as Error).message).toMatch(/admin\.sock does not exist; is haproxy running, and does it have `stats socket .*admin\.sock mode 600 level admin`/);

      // A file where the socket should be (e.g. left behind by an HAProxy that was killed) refuses connections.
      await writeFile(join(directory, 'stale.sock'), '');
      const stale = new HaproxyRuntimeApi({ socketPath: join(directory, 'stale.sock') });
      await expect(stale.showInfo()).rejects.toMatchObject({ reasonCode: 'HAProxy.SocketUnavailable', message: expect.stringContaining('refused the connection') });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('refuses props it cannot work with, listing every problem, before it touches the socket', () => {
    const api = new HaproxyRuntimeApi({ socketPath: '/nonexistent/admin.sock' });
    const make = () => new HaproxyTargetPool({ api, backend: 'app; disable server app/one', clock: systemClock, pollIntervalMs: 0, rise: -1, fall: Number.NaN, drainTimeoutMs: -5 });
    expect(make).toThrow(BadInputError);
    expect(make).toThrow('invalid HaproxyTargetPool props:\n'
      + '  - backend must be an HAProxy backend name (letters, digits, "_", ".", ":", "-") (given "app; disable server app/one")\n'
      + '  - pollIntervalMs must be greater than 0 (given 0)\n'
      + '  - rise must be greater than 0 (given -1)\n'
      + '  - fall must be greater than 0 (given NaN)\n'
      + '  - drainTimeoutMs must be 0 or more (given -5)');
    expect(() => new HaproxyTargetPool({ api, backend: 'web_v2.eu:1-a', clock: systemClock, drainTimeoutMs: 0 })).not.toThrow();
  });

  it('maps the transitional and unusual statuses too', () => {
    const csv = [
      '# pxname,svname,qcur,scur,status,type,check_status,check_code,check_desc,last_chk,check_rise,check_fall,check_health,agent_status',
      'app,going-down,0,3,UP 1/2,2,L7STS,500,Layer7 wrong status,"Internal, Server Error",2,2,2,',
      'app,coming-up,0,0,DOWN 1/2,2,L7OK,200,Layer7 check passed,,2,2,1,',
      'app,stopping,0,1,NOLB,2,L7OK,200,Layer7 check passed,,2,2,3,',
      'app,tracked,0,0,MAINT (via other/one),2,,,,,,,,',
      'app,agent,0,0,DOWN (agent),2,L7OK,200,,,2,2,3,L7STS',
      'app,odd,0,0,SOMETHING NEW,2,,,,,,,,',
      'app,BACKEND,0,4,UP,1,,,,,,,,',
    ].join('\n');
    expect(parseShowStat(csv).map(serverTargetStatus)).toEqual([
      { id: 'going-down', state: 'healthy', description: 'UP 1/2: still serving, but its last check failed (Layer7 wrong status (code 500): Internal, Server Error)' },
      { id: 'coming-up', state: 'initial', reasonCode: 'HAProxy.InitialHealthChecking', description: 'DOWN 1/2: 1 of the 2 passing checks it needs' },
      { id: 'stopping', state: 'draining', reasonCode: 'HAProxy.NOLB', description: 'NOLB' },
      { id: 'tracked', state: 'unused', reasonCode: 'HAProxy.MAINT', description: 'MAINT (via other/one)' },
      { id: 'agent', state: 'unhealthy', reasonCode: 'HAProxy.AgentDown', description: 'the agent check reports it down (L7STS)' },
      { id: 'odd', state: 'unavailable', reasonCode: 'HAProxy.UnknownStatus', description: 'HAProxy status "SOMETHING NEW"' },
    ]);
  });
});
