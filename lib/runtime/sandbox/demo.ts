// `sluice sandbox --demo`: a release under load loses nothing, shown on this machine. It starts the
// sandbox on v1, builds v2, sends steady load (page views, jobs, events), releases v1 → v2 with the
// very command the sandbox prints, SIGKILLs a worker mid-stream and starts it again, releases back to
// v1, lets the queue and the stream drain, and then checks what the load recorded against what the
// workers did. It passes only when all of it holds: no failed request, no lost job, every event
// processed in order per key, and the leases spread over the live workers again.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { type DemoCheck, eventsCheck, jobsCheck, leasesCheck, type ProcessedEvent, requestsCheck } from './demo-checks.ts';
import { type DemoLoadResult, startDemoLoad } from './demo-load.ts';
import { type Sandbox, type SandboxOptions, startSandbox } from './sandbox.ts';
import { sandboxReleaseArgs, sandboxReleaseEnvironment } from './sandbox-guide.ts';

export interface DemoOptions extends Pick<SandboxOptions, 'projectRoot' | 'dir' | 'statusPage' | 'database' | 'locateHaproxy'> {
  /** One line per step and per line of the releases' output. */
  readonly progress: (line: string) => void;
  /** Called once the sandbox is up, before any load (to print its guide, or to point a browser at it). */
  readonly onStarted?: (sandbox: Sandbox) => void | Promise<void>;
  /** Aborted by Ctrl-C: the demo stops at its next step, and the sandbox with it. */
  readonly signal?: AbortSignal;
}

export interface DemoResult {
  readonly ok: boolean;
  readonly checks: readonly DemoCheck[];
  readonly load: DemoLoadResult;
  readonly durationMs: number;
}

/** How long the queue and the stream get to catch up after the load stops. */
const DRAIN_TIMEOUT_MS = 60_000;
/** The sandbox restarts the workers on a released version within a second of the release's end, one at a time. */
const WORKERS_FOLLOW_TIMEOUT_MS = 60_000;
/** A killed worker's leases expire after the consumer's 10 s lease duration; the restarted one then takes its share. */
const REBALANCE_TIMEOUT_MS = 45_000;

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const elapsed = () => {
    const seconds = Math.floor((Date.now() - started) / 1000);
    return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
  };
  const progress = (line: string) => options.progress(`[${elapsed()}] ${line}`);
  const pause = (ms: number) => sleep(ms, undefined, options.signal ? { signal: options.signal } : {});
  const processed: ProcessedEvent[] = [];
  const workerIds = new Map<string, string>();
  const sandbox = await startSandbox({
    projectRoot: options.projectRoot,
    dir: options.dir,
    progress,
    ...(options.database !== undefined ? { database: options.database } : {}),
    ...(options.locateHaproxy ? { locateHaproxy: options.locateHaproxy } : {}),
    ...(options.statusPage ? { statusPage: options.statusPage } : {}),
    onWorkerLine: (line, worker) => {
      if (typeof line.workerId === 'string') workerIds.set(worker, line.workerId);
      if (line.event === 'event_received' && typeof line.partitionKey === 'string' && typeof line.sequenceNumber === 'string') {
        processed.push({ partitionKey: line.partitionKey, sequenceNumber: line.sequenceNumber });
      }
    },
  });
  try {
    await options.onStarted?.(sandbox);
    const first = sandbox.state.version;
    const second = 'v2';
    progress(`building ${second} from the same tree`);
    await sandbox.buildRelease(second);
    options.signal?.throwIfAborted();
    const liveIds = () => sandbox.workers().map((worker) => workerIds.get(worker.name)).filter((id): id is string => id !== undefined);
    progress(`built; waiting for the workers to share the shards`);
    await waitForBalance(sandbox, liveIds, REBALANCE_TIMEOUT_MS);

    progress(`load on ${sandbox.state.url}: 20 page views, 5 jobs and 10 events a second`);
    const load = startDemoLoad({ url: sandbox.state.url });
    await pause(2_000);
    await release(sandbox, options.projectRoot, second, progress);
    await sandbox.workersOn(second, WORKERS_FOLLOW_TIMEOUT_MS);
    progress(`the workers run ${second} too`);

    const [victim] = sandbox.workers();
    const killedId = workerIds.get(victim!.name);
    progress(`SIGKILL ${victim!.name} (${killedId}) mid-stream`);
    await sandbox.killWorker(victim!.name);
    await pause(3_000);
    progress(`starting ${victim!.name} again`);
    await sandbox.restartWorker(victim!.name);
    // Its new id arrives with its first log line.
    workerIds.delete(victim!.name);

    await release(sandbox, options.projectRoot, first, progress);
    await sandbox.workersOn(first, WORKERS_FOLLOW_TIMEOUT_MS);
    progress(`the workers run ${first} too`);
    await pause(2_000);
    const result = await load.stop();
    progress(`load stopped after ${result.requests} requests; waiting for the queue and the stream to drain`);

    const pending = () => ({ jobs: result.acceptedJobs.filter((id) => !sandbox.jobDeliveries().has(id)).length, events: unprocessed(result, processed) });
    let lastReport = Date.now();
    await waitFor(() => {
      const left = pending();
      if (Date.now() - lastReport >= 5_000) {
        lastReport = Date.now();
        progress(`still waiting for ${left.jobs} jobs and ${left.events} events`);
      }
      return left.jobs === 0 && left.events === 0;
    }, DRAIN_TIMEOUT_MS);
    progress('drained; waiting for the leases to spread over the live workers');
    const owners = await waitForBalance(sandbox, liveIds, REBALANCE_TIMEOUT_MS);
    const status = await sandbox.status.snapshot();
    const checks = [
      requestsCheck(result.requests, result.failed, result.failures),
      jobsCheck(result.acceptedJobs, sandbox.jobDeliveries(), status.queue.deadLetterDepth),
      eventsCheck(result.putEvents, processed),
      leasesCheck(owners, liveIds(), killedId),
    ];
    return { ok: checks.every((check) => check.ok), checks, load: result, durationMs: Date.now() - started };
  } finally {
    await sandbox.stop();
  }
}

/** The summary the demo prints. */
export function formatDemoResult(result: DemoResult): string[] {
  const versions = Object.entries(result.load.versions).map(([version, count]) => `${version} ${count}`).join(', ');
  return [
    '',
    `demo ${result.ok ? 'passed' : 'FAILED'} in ${(result.durationMs / 1000).toFixed(1)} s`,
    ...result.checks.map((check) => `  ${check.ok ? 'ok  ' : 'FAIL'}  ${check.name}: ${check.detail}`),
    `        page views answered by version: ${versions || 'none'}`,
  ];
}

/** Runs the printed release command as a person would, and fails the demo when it does not release. */
async function release(sandbox: Sandbox, projectRoot: string, version: string, progress: (line: string) => void): Promise<void> {
  progress(`releasing ${version}: npx sluice ${sandboxReleaseArgs(sandbox.state, version).join(' ')}`);
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'bin/sluice.ts'), ...sandboxReleaseArgs(sandbox.state, version)], {
    cwd: projectRoot,
    env: { ...inherited, ...sandboxReleaseEnvironment(sandbox.state) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on('line', (line) => progress(`  release │ ${line}`));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`sluice release ${version} exited ${code}; its output is above`);
}

function unprocessed(result: DemoLoadResult, processed: readonly ProcessedEvent[]): number {
  const seen = new Set(processed.map((event) => event.sequenceNumber));
  return result.putEvents.filter((event) => !seen.has(event.sequenceNumber)).length;
}

/** Waits until every shard's owner is a live worker and the shares are within one; resolves with the owners then (or at the timeout). */
async function waitForBalance(sandbox: Sandbox, liveIds: () => string[], timeoutMs: number): Promise<(string | undefined)[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stream } = await sandbox.status.snapshot();
    const owners = stream.shards.map((shard) => shard.leaseOwner);
    const live = liveIds();
    if (live.length === sandbox.workers().length && leasesCheck(owners, live, undefined).ok) return owners;
    if (Date.now() > deadline) return owners;
    await sleep(500);
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(250);
}
