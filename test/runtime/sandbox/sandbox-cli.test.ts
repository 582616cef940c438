// `npx sluice sandbox` as a person runs it: the real executable in a terminal-less child process,
// the printed curl and release commands used as printed, `sluice sandbox status` and `package` from
// another process, the status page in chromium while the printed release runs, and Ctrl-C (SIGINT)
// at the end, after which nothing may be left.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { sandboxProcesses } from '../../../lib/runtime/sandbox/leftovers.ts';
import type { SandboxState } from '../../../lib/runtime/sandbox/sandbox-state.ts';
import type { SandboxStatus } from '../../../lib/runtime/sandbox/sandbox-status.ts';
import { liveSandboxStatus } from '../../../lib/runtime/sandbox/sandbox-status-source.ts';
import { requireHaproxy } from '../../helpers/haproxy.ts';
import { projectRoot } from '../../helpers/run-cdk.ts';
import { environmentWithoutAws, runSluice, startSluice } from '../../helpers/sluice-process.ts';
import { drawnTargets, expectStatusPageFollowsRelease, launchChromium, requireChromium } from './status-page-browser.ts';

/** The printed `curl -s -X POST <url> -H '<header>' -d '<body>'`, sent as curl would send it. */
function sendPrintedCurl(line: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const match = /curl -s -X POST (\S+) -H '([^']+)' -d '(.+)'$/.exec(line.trim());
  if (!match) throw new Error(`not a printed curl command: ${line}`);
  const [, url, header, body] = match;
  const [name, value] = header!.split(/:\s*/);
  return new Promise((resolve, reject) => {
    const outgoing = request(url!, { method: 'POST', headers: { [name!]: value!, 'content-length': Buffer.byteLength(body!) }, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** Resolves once a worker's log has a line with `event` and `field: value`. */
async function workerLogged(dir: string, event: string, field: string, value: unknown, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const file of readdirSync(join(dir, 'logs')).filter((name) => name.startsWith('worker'))) {
      for (const line of readFileSync(join(dir, 'logs', file), 'utf8').split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.event === event && entry[field] === value) return entry;
      }
    }
    if (Date.now() > deadline) throw new Error(`no worker logged ${event} with ${field} ${String(value)} within ${timeoutMs} ms`);
    await sleep(200);
  }
}

async function status(dir: string): Promise<SandboxStatus> {
  const run = await runSluice(['sandbox', 'status', '--dir', dir, '--json']);
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  return JSON.parse(run.stdout) as SandboxStatus;
}

function refusesConnections(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const outgoing = request(`${url}/version`, { agent: false, timeout: 2_000 }, (response) => {
      response.resume();
      resolve(false);
    });
    outgoing.on('error', () => resolve(true));
    outgoing.end();
  });
}

describe.skipIf(!requireHaproxy() || !requireChromium())('npx sluice sandbox', () => {
  it('starts everything on loopback, says how to use it, reports its status, takes a release with the printed command while its page follows it, and leaves nothing after Ctrl-C', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'sluice-sandbox-test-')), 'sandbox');
    const sandbox = startSluice(['sandbox', '--dir', dir]);
    const browser = await launchChromium();
    try {
      const guide = await sandbox.waitForOutput('Ctrl-C stops everything', 90_000);
      const lines = guide.split('\n');
      const url = /^ {2}app +(http:\/\/127\.0\.0\.1:\d+) +HAProxy in front of app1 :\d+, app2 :\d+, app3 :\d+, on v1$/m.exec(guide)?.[1];
      expect(url, guide).toBeDefined();
      expect(guide).toMatch(/^ {2}workers +worker1, worker2 \(queue processor and stream consumer\)/m);
      expect(guide).toMatch(/^ {2}database +postgres:\/\/postgres@127\.0\.0\.1:\d+\/sluice$/m);
      const pageUrl = /^ {2}status +(http:\/\/127\.0\.0\.1:\d+\/) +the status page$/m.exec(guide)?.[1];
      expect(pageUrl, guide).toBeDefined();
      expect(guide).toMatch(/PostgreSQL postgres:\/\/\S+: 2 migrations applied \(0000_baseline\.sql, 0001_processed_jobs\.sql\)/);

      // The two printed curl commands, as printed: a job the worker processes, an event it consumes.
      const job = await sendPrintedCurl(lines.find((line) => line.includes(`curl -s -X POST ${url}/jobs`))!);
      expect(job.status).toBe(202);
      await workerLogged(dir, 'work_delivered', 'messageId', job.body.messageId);
      const event = await sendPrintedCurl(lines.find((line) => line.includes(`curl -s -X POST ${url}/events`))!);
      expect(event.status).toBe(202);
      expect(await workerLogged(dir, 'event_received', 'sequenceNumber', event.body.sequenceNumber)).toMatchObject({ partitionKey: 'user-1' });

      const before = await status(dir);
      expect(before.url).toBe(url);
      expect(before.targets.map(({ name, version, state }) => ({ name, version, state }))).toEqual(['app1', 'app2', 'app3'].map((name) => ({ name, version: 'v1', state: 'serving' })));
      expect(before.queue).toEqual({ depth: 0, inFlight: 0, deadLetterDepth: 0 });
      expect(before.stream.shards).toHaveLength(4);
      expect(new Set(before.stream.shards.map((shard) => shard.leaseOwner)).size, 'both workers hold leases').toBe(2);
      expect(before.release).toBeUndefined();
      const text = await runSluice(['sandbox', 'status', '--dir', dir]);
      expect(text.exitCode).toBe(0);
      expect(text.stdout).toMatch(/^ {2}app1 +\d+ +v1 +serving$/m);
      expect(text.stdout).toMatch(/^queue +0 waiting, 0 in flight, 0 in the dead-letter queue$/m);
      expect(text.stdout).toContain('release    none yet');

      // A change, built into the sandbox and released with the command it prints.
      const packaged = await runSluice(['sandbox', 'package', 'v2', '--dir', dir], { timeoutMs: 60_000 });
      expect(packaged.stderr).toBe('');
      expect(packaged.exitCode).toBe(0);
      const command = packaged.stdout.split('\n').map((line) => line.trim()).find((line) => line.includes('npx sluice release v2'));
      expect(command, packaged.stdout).toMatch(/^AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_ENDPOINT_URL_DYNAMODB=http:\/\/127\.0\.0\.1:\d+ npx sluice release v2 --haproxy-socket \S+ --backend app --local-targets \S+ --release-table sluice-sandbox-releases --check-interval 100ms$/);
      // The guide's command for v2 is this very command.
      expect(lines.map((line) => line.trim())).toContain(command);
      // The page the sandbox serves shows its three targets; the page code, fed by the sandbox's own
      // status reader, follows the release step by step.
      const page = await browser.newPage();
      await page.goto(pageUrl!);
      await expect.poll(async () => (await drawnTargets(page)).map(({ name, version }) => `${name} ${version}`), { timeout: 15_000 }).toEqual(['app1 v1', 'app2 v1', 'app3 v1']);
      const state = JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8')) as SandboxState;
      const source = liveSandboxStatus(state, { watchReleaseEveryMs: 50 });
      let released = { code: -1, output: '' };
      try {
        const drawn = await expectStatusPageFollowsRelease({
          page,
          source,
          timeoutMs: 60_000,
          release: async () => {
            released = await new Promise<{ code: number; output: string }>((resolve) => {
              execFile('bash', ['-c', command!], { cwd: projectRoot, env: environmentWithoutAws(), timeout: 120_000 }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? -1) : 0, output: stdout + stderr }));
            });
          },
        });
        expect(drawn.targetsAfter.map(({ version }) => version)).toEqual(['v2', 'v2', 'v2']);
        expect(drawn.releaseSummary).toMatch(/v2 · finished/);
        // Each target's steps in turn (the last target's final step may close with the journal, unseen), then the end.
        expect(drawn.timeline.filter(({ event }) => event === 'target_done').map(({ target }) => target).slice(0, 2)).toEqual(['app1', 'app2']);
        expect(drawn.timeline.filter(({ event }) => event === 'target_installing').map(({ target }) => target)).toEqual(['app1', 'app2', 'app3']);
        expect(drawn.timeline.at(-1)!.event).toBe('release_finished');
      } finally {
        source.close();
      }
      expect(released.output).toContain('released v2 to 3 target(s)');
      expect(released.code).toBe(0);
      // The workers follow: restarted on v2, one at a time, once the release is over.
      await sandbox.waitForOutput('v2 is on every target and its release is over: restarting the workers on it, one at a time', 20_000);
      await expect.poll(() => (JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8')) as SandboxState).workers.filter((worker, index) => worker.pid !== state.workers[index]!.pid).length, { timeout: 30_000 }).toBe(2);
      const followed = (JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8')) as SandboxState).workers;
      expect(followed.map((worker) => readlinkSync(`/proc/${worker.pid}/cwd`))).toEqual([join(dir, 'releases', 'v2'), join(dir, 'releases', 'v2')]);

      const after = await status(dir);
      expect(after.targets.map((target) => [target.version, target.state])).toEqual([['v2', 'serving'], ['v2', 'serving'], ['v2', 'serving']]);
      expect(after.release).toMatchObject({ toVersion: 'v2', state: 'finished' });
      expect(after.release!.timeline.map((entry) => entry.event)).toEqual(['release_started', 'release_finished']);

      // Ctrl-C: everything stops, the directory goes, nothing keeps running or listening.
      sandbox.child.kill('SIGINT');
      expect(await sandbox.exited).toBe(0);
      expect(sandbox.stdout()).toContain(`stopped; ${dir} removed`);
      expect(existsSync(dir)).toBe(false);
      expect(sandboxProcesses(dir)).toEqual([]);
      expect(await refusesConnections(url!)).toBe(true);
    } finally {
      await browser.close();
      sandbox.child.kill('SIGKILL');
    }
  }, 240_000);
});
