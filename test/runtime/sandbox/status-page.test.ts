// The status page's server, over real HTTP on loopback: what it serves, how it guards what it
// serves, and how it treats a slow, failing or busy sandbox. What the page draws is checked in a
// real browser (status-page-in-browser.test.ts).
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { SandboxStatus, SandboxStatusSource } from '../../../lib/runtime/sandbox/sandbox-status.ts';
import { type StatusPage, startStatusPage } from '../../../lib/runtime/sandbox/status-page.ts';
import { rollingReleaseSnapshots } from './status-page-release-script.ts';

/** A sandbox in the middle of a release (app1 on v2, app2 on its way), from the scripted release. */
const status: SandboxStatus = rollingReleaseSnapshots({
  targets: [{ name: 'app1', port: 18081 }, { name: 'app2', port: 18082 }, { name: 'app3', port: 18083 }],
  fromVersion: 'v1',
  toVersion: 'v2',
  startAt: Date.parse('2025-06-02T10:00:00.000Z'),
  stepMs: 400,
  entriesPerSnapshot: 2,
})[8]!;

/** Answers after `delayMs`, counting calls; fails with `failure` when set. */
class SlowSource implements SandboxStatusSource {
  calls = 0;
  failure: Error | undefined;
  constructor(private readonly delayMs = 0) {}
  async snapshot(): Promise<SandboxStatus> {
    this.calls += 1;
    await sleep(this.delayMs);
    if (this.failure) throw this.failure;
    return status;
  }
}

const pages: StatusPage[] = [];
afterEach(async () => {
  await Promise.all(pages.splice(0).map((page) => page.stop()));
});

async function start(source: SandboxStatusSource, options: { refreshIntervalMs?: number; snapshotTimeoutMs?: number } = {}): Promise<StatusPage> {
  const page = await startStatusPage({ source, ...options });
  pages.push(page);
  return page;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function get(url: string, options: { method?: string; host?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sent = request(url, { method: options.method ?? 'GET', headers: options.host ? { Host: options.host } : {} }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    sent.on('error', reject);
    sent.end();
  });
}

describe('startStatusPage', () => {
  it('listens on a free loopback port by default and says where', async () => {
    const page = await start(new SlowSource());
    expect(page.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(Number(new URL(page.url).port)).toBeGreaterThan(0);
  });

  it('serves the page, its script, its style and its icon, each with its content type', async () => {
    const page = await start(new SlowSource(), { refreshIntervalMs: 750 });
    const html = await get(page.url);
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.body).toContain('<title>sluice sandbox</title>');
    expect(html.body).toContain('<meta name="sluice-refresh-ms" content="750">');
    expect(html.body).toContain('<script type="module" src="/status-page.js"></script>');
    const script = await get(new URL('/status-page.js', page.url).href);
    expect([script.status, script.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(script.body).toContain("fetch('/status.json'");
    const style = await get(new URL('/status-page.css', page.url).href);
    expect([style.status, style.headers['content-type']]).toEqual([200, 'text/css; charset=utf-8']);
    const icon = await get(new URL('/favicon.ico', page.url).href);
    expect([icon.status, icon.headers['content-type']]).toEqual([200, 'image/svg+xml']);
  });

  it('/status.json is the snapshot exactly as the source gives it, never cached', async () => {
    const page = await start(new SlowSource());
    const answer = await get(new URL('/status.json', page.url).href);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(answer.body)).toEqual(status);
  });

  it('forbids inline script and requests to other origins, and content-type sniffing, on every answer', async () => {
    const page = await start(new SlowSource());
    for (const path of ['/', '/status.json', '/status-page.js', '/nowhere']) {
      const { headers } = await get(new URL(path, page.url).href);
      const policy = String(headers['content-security-policy']);
      expect(policy, path).toContain("default-src 'none'");
      expect(policy, path).toContain("script-src 'self'");
      expect(policy, path).toContain("connect-src 'self'");
      expect(policy, path).not.toContain('unsafe-inline');
      expect(headers['x-content-type-options'], path).toBe('nosniff');
    }
  });

  it('concurrent polls share one snapshot: five tabs do not cost the sandbox five', async () => {
    const source = new SlowSource(500);
    const page = await start(source);
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(new URL('/status.json', page.url).href)));
    expect(answers.map(({ status: code }) => code)).toEqual([200, 200, 200, 200, 200]);
    expect(source.calls).toBe(1);
    // The next poll takes a fresh snapshot.
    await get(new URL('/status.json', page.url).href);
    expect(source.calls).toBe(2);
  });

  it('a failing sandbox is a 503 that says what failed; the next poll asks again', async () => {
    const source = new SlowSource();
    source.failure = new Error('HAProxy runtime API: connection refused');
    const page = await start(source);
    const failed = await get(new URL('/status.json', page.url).href);
    expect(failed.status).toBe(503);
    expect(JSON.parse(failed.body)).toEqual({ error: "the sandbox's status could not be read: HAProxy runtime API: connection refused" });
    source.failure = undefined;
    expect((await get(new URL('/status.json', page.url).href)).status).toBe(200);
  });

  it('a sandbox that does not answer is a 503 after snapshotTimeoutMs, not a poll that hangs', async () => {
    const page = await start(new SlowSource(5_000), { snapshotTimeoutMs: 200 });
    const started = Date.now();
    const answer = await get(new URL('/status.json', page.url).href);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toEqual({ error: "the sandbox's status could not be read: the sandbox took over 200 ms to report its status" });
  });

  it('answers only GET, and names the page for an unknown path', async () => {
    const page = await start(new SlowSource());
    const posted = await get(new URL('/status.json', page.url).href, { method: 'POST' });
    expect([posted.status, posted.headers.allow, posted.body]).toEqual([405, 'GET', 'the status page only answers GET (given POST)\n']);
    const missing = await get(new URL('/admin?x=1', page.url).href);
    expect([missing.status, missing.body]).toEqual([404, 'no such page: /admin (the status page is /, its data /status.json)\n']);
  });

  it('on loopback, refuses a request for another host name (a DNS-rebinding page), and takes loopback names', async () => {
    const page = await start(new SlowSource());
    const { port } = new URL(page.url);
    const rebound = await get(new URL('/status.json', page.url).href, { host: `attacker.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.body).toBe(`this status page answers only to loopback names (given Host: attacker.example:${port}); open http://127.0.0.1:${port}/\n`);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      expect((await get(new URL('/status.json', page.url).href, { host })).status, host).toBe(200);
    }
  });

  it('refuses unusable options with one error that lists every problem', async () => {
    await expect(startStatusPage({ source: {} as SandboxStatusSource, port: 70_000, host: '', refreshIntervalMs: 10 })).rejects.toThrow(
      [
        'the status page cannot start:',
        '  - source must have a snapshot() method returning the SandboxStatus (given none)',
        '  - port must be a whole number between 0 and 65535 (given 70000)',
        '  - host must be an address to listen on, e.g. 127.0.0.1 (given "")',
        '  - refreshIntervalMs must be a whole number between 100 and 60000 milliseconds (given 10)',
      ].join('\n'),
    );
  });

  it('a port already taken is an error, not a page on another port', async () => {
    const first = await start(new SlowSource());
    await expect(startStatusPage({ source: new SlowSource(), port: Number(new URL(first.url).port) })).rejects.toThrow(/EADDRINUSE/);
  });

  it('stop() closes the port even while a page keeps its connection open, and is safe to call twice', async () => {
    const page = await startStatusPage({ source: new SlowSource() });
    const keptAlive = await fetch(new URL('/status.json', page.url), { keepalive: true });
    expect(keptAlive.status).toBe(200);
    const started = Date.now();
    await Promise.all([page.stop(), page.stop()]);
    await page.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(get(page.url)).rejects.toThrow(/ECONNREFUSED/);
  });
});
