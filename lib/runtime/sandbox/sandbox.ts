// `sluice sandbox`: everything the stack runs, on this machine, on loopback. The stand-ins the tests
// use (SQS with its dead-letter queue, Kinesis, DynamoDB with the checkpoint and release tables,
// PostgreSQL when it is installed), HAProxy in front of three web-app processes, two worker processes,
// an external API for the jobs, and the status page. The services are the release's own bundles,
// built from the working tree, so what runs here is what an instance would run.
//
// The web apps are the targets of a local targets file, started by the release's LocalProcessInstaller:
// `sluice release --haproxy-socket … --local-targets <dir>/targets.json --release-table …` releases
// them exactly as it releases local services anywhere, with the lock and journal in the sandbox's
// DynamoDB release table as on a stage. Their environment comes from `<dir>/service-env.json` through
// `<dir>/launch.mjs`, so a release run from any shell starts them pointed at the sandbox (and at
// nothing of AWS). The workers are the sandbox's own children: once a release has put a new version
// on every target and finished, the sandbox restarts them on it, one at a time and gracefully, as
// each instance's install restarts its worker.
//
// stop() takes everything down in the reverse order it came up, and removes the directory; a start
// that fails halfway stops what it had started. A sandbox killed outright leaves its state file, and
// the next start clears what that one left behind before it begins.

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { systemClock } from '../clock.ts';
import { MigrationRunner } from '../migrations/migration-runner.ts';
import { DynamoDbReleaseStore } from '../release/aws/dynamodb-release-store.ts';
import { LocalInstanceGuard } from '../release/local/local-instance-guard.ts';
import { LocalProcessInstaller, stopAll } from '../release/local/local-process-installer.ts';
import { loadLocalTargets, type LocalTargetsConfig } from '../release/local/local-targets.ts';
import { startDynalite } from './dynalite.ts';
import { freePorts } from './free-port.ts';
import { haproxyBinary, startHaproxy } from './haproxy.ts';
import { startJobSink } from './job-sink.ts';
import { startKinesalite } from './kinesalite.ts';
import { localAwsVariables, localWorkerEnvironment } from './local-aws-environment.ts';
import { startLocalSqs } from './local-sqs.ts';
import { postgresBinDirectory, startPostgres } from './postgres-server.ts';
import { killSandboxProcesses, SANDBOX_MARK_VARIABLE } from './leftovers.ts';
import { buildSandboxRelease } from './sandbox-release.ts';
import { liveSandboxStatus, type LiveSandboxStatus } from './sandbox-status-source.ts';
import { readSandboxState, SANDBOX_BACKEND, SANDBOX_FRONTEND, type SandboxState, writeSandboxState } from './sandbox-state.ts';
import type { SandboxStatusSource } from './sandbox-status.ts';
import { type SandboxWorker, startSandboxWorker } from './sandbox-worker.ts';

/** Something this machine lacks, or a sandbox already running: exit 3, nothing started. */
export class SandboxPrerequisiteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxPrerequisiteError';
  }
}

export interface SandboxOptions {
  /** The working tree the release is built from. */
  readonly projectRoot: string;
  /** Everything the sandbox writes; created fresh, removed by stop(). */
  readonly dir: string;
  /** @default "v1" */
  readonly version?: string;
  /** @default 3 */
  readonly targets?: number;
  /** @default 2 */
  readonly workers?: number;
  /** @default 4 */
  readonly shards?: number;
  /** One line per step, for the person waiting. */
  readonly progress?: (line: string) => void;
  /** Every JSON line a worker writes (the demo counts the events it processed). */
  readonly onWorkerLine?: (line: Readonly<Record<string, unknown>>, worker: string) => void;
  /** false: no PostgreSQL even when it is installed (the app runs without a database). @default true */
  readonly database?: boolean;
  /** Where HAProxy is. @default haproxyBinary(): on PATH, or where Debian puts it */
  readonly locateHaproxy?: () => string | undefined;
  /** Serves the status page for `source`; the sandbox prints its URL and stops it first. @default - no page */
  readonly statusPage?: (source: SandboxStatusSource) => Promise<{ readonly url: string; stop(): Promise<void> }>;
}

export interface Sandbox {
  readonly state: SandboxState;
  readonly targets: LocalTargetsConfig;
  /** Where the worker's handler delivers jobs: deliveries per message id. */
  jobDeliveries(): ReadonlyMap<string, number>;
  /** The live status, with rates over the time between snapshots. */
  readonly status: LiveSandboxStatus;
  /** The running workers, by name. */
  workers(): readonly SandboxWorker[];
  /** The version the workers run: the first, until a release has put another on every target. */
  workersVersion(): string;
  /** Resolves once the workers run `version` (after a release of it) and no change to them is under way. */
  workersOn(version: string, timeoutMs: number): Promise<void>;
  /** SIGKILLs a worker, as a crash would. */
  killWorker(name: string): Promise<void>;
  /** Starts a worker again under its name (after killWorker, or after it exited). */
  restartWorker(name: string): Promise<void>;
  /** Builds `version` from the working tree into the sandbox's releases. */
  buildRelease(version: string): Promise<void>;
  /** Stops everything and removes the directory; safe to call twice. */
  stop(): Promise<void>;
}

/** How often the sandbox looks whether a release put a new version on every target. */
const WORKER_FOLLOW_INTERVAL_MS = 1_000;
/** The service's stop budget (systemd's TimeoutStopSec on an instance) is 30 s; the sandbox's services idle fast. */
const WEB_STOP_TIMEOUT_MS = 30_000;
const WEB_START_TIMEOUT_MS = 20_000;
const WORKER_STOP_TIMEOUT_SECONDS = 15;
/** Fast health checks: a release here takes seconds, not minutes. The printed release command says the same. */
export const SANDBOX_CHECK_INTERVAL_MS = 100;
const STAGE = 'sandbox';

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const progress = options.progress ?? (() => undefined);
  if ((options.locateHaproxy ?? haproxyBinary)() === undefined) {
    throw new SandboxPrerequisiteError('HAProxy is not installed, and the sandbox runs the load balancer with it: install it (sudo apt-get install -y haproxy), then run npx sluice sandbox again');
  }
  await clearLeftovers(options.dir, progress);
  const dir = options.dir;
  const version = options.version ?? 'v1';
  const paths = { releases: join(dir, 'releases'), state: join(dir, 'state'), logs: join(dir, 'logs'), artifacts: join(dir, 'artifacts') };
  await Promise.all(Object.values(paths).map((path) => mkdir(path, { recursive: true })));

  // Everything started is stopped by the cleanups, in reverse, whether start fails or stop() is called.
  const cleanups: { readonly what: string; run(): Promise<void> }[] = [];
  const stopAllStarted = async () => {
    const failures: string[] = [];
    for (const cleanup of cleanups.reverse()) {
      await cleanup.run().catch((error: unknown) => failures.push(`${cleanup.what}: ${(error as Error).message}`));
    }
    cleanups.length = 0;
    // Whatever did not stop when asked (or was started by a release killed meanwhile): nothing outlives the sandbox.
    killSandboxProcesses(dir);
    await rm(dir, { recursive: true, force: true }).catch((error: unknown) => failures.push(`removing ${dir}: ${(error as Error).message}`));
    if (failures.length > 0) throw new Error(`the sandbox did not stop cleanly:\n${failures.map((line) => `  - ${line}`).join('\n')}`);
  };

  try {
    progress(`building ${version} from ${options.projectRoot} (npm run package)`);
    const build = (name: string) => buildSandboxRelease({ version: name, projectRoot: options.projectRoot, releasesDir: paths.releases, artifactsDir: paths.artifacts });
    const built = build(version);
    // The stand-ins start while esbuild bundles; a failed build still stops them.
    built.catch(() => undefined);

    const sqs = await startLocalSqs();
    cleanups.push({ what: 'SQS', run: () => sqs.stop() });
    const queue = await sqs.createQueue({ name: 'sluice-sandbox-work', maxReceiveCount: 5 });
    const streamFailures = await sqs.createQueue({ name: 'sluice-sandbox-stream-failures', maxReceiveCount: 0 });
    const kinesis = await startKinesalite({ shardLimit: options.shards ?? 4 });
    cleanups.push({ what: 'Kinesis', run: () => kinesis.stop() });
    const streamName = await kinesis.createStream({ name: 'sluice-sandbox-events', shards: options.shards ?? 4 });
    const dynamodb = await startDynalite();
    cleanups.push({ what: 'DynamoDB', run: () => dynamodb.stop() });
    const [checkpointTableName, releaseTableName] = await Promise.all([dynamodb.createLeaseTable('sluice-sandbox-checkpoints'), dynamodb.createReleaseTable('sluice-sandbox-releases')]);
    progress(`SQS ${sqs.endpoint} (queue and dead-letter queue), Kinesis ${kinesis.endpoint} (${options.shards ?? 4} shards), DynamoDB ${dynamodb.endpoint} (checkpoint and release tables)`);

    const mark = { [SANDBOX_MARK_VARIABLE]: dir };
    const postgres = options.database === false ? undefined : await startDatabase(options.projectRoot, mark, progress);
    if (options.database === false) progress('no database (--no-database): the app runs without one, and no migrations are applied');
    if (postgres) cleanups.push({ what: 'PostgreSQL', run: () => postgres.stop() });
    const jobSink = await startJobSink();
    cleanups.push({ what: 'the external API', run: () => jobSink.stop() });

    const endpoints = { sqs: sqs.endpoint, kinesis: kinesis.endpoint, dynamodb: dynamodb.endpoint };
    const serviceVariables: Record<string, string> = {
      ...localAwsVariables(endpoints),
      SLUICE_STAGE: STAGE,
      WORK_QUEUE_URL: queue.queueUrl,
      EVENT_STREAM_NAME: streamName,
      QUEUE_URL: queue.queueUrl,
      STREAM_NAME: streamName,
      CHECKPOINT_TABLE_NAME: checkpointTableName,
      STREAM_FAILURE_QUEUE_URL: streamFailures.queueUrl,
      EXTERNAL_API_URL: jobSink.url,
      WORKER_STOP_TIMEOUT_SECONDS: String(WORKER_STOP_TIMEOUT_SECONDS),
      // A killed worker's jobs come back within 10 s instead of a minute; the heartbeat keeps a slow job hidden.
      WORKER_VISIBILITY_TIMEOUT_SECONDS: '10',
      ...(postgres ? { DATABASE_URL: postgres.url } : {}),
    };
    const targetsFile = await writeTargetsFile(dir, serviceVariables, options.targets ?? 3);
    const targets = await loadLocalTargets(targetsFile);
    await built;
    progress(`built ${version} into ${join(paths.releases, version)}`);

    const installer = new LocalProcessInstaller({ ...targets, clock: systemClock });
    cleanups.push({ what: 'the web apps', run: () => stopAll(targets) });
    await Promise.all(targets.targets.map((target) => installer.install(target.name, version, { timeoutMs: WEB_START_TIMEOUT_MS })));
    // The fleet's version, which a release reads as the one it came from and rolls back to.
    await new LocalInstanceGuard({ stateDir: targets.stateDir }).setLaunchVersion(version);
    progress(`web app ${version} on ${targets.targets.map((target) => `${target.name} :${target.port}`).join(', ')}`);

    const haproxy = await startHaproxy({ backend: SANDBOX_BACKEND, servers: targets.targets, checkIntervalMs: SANDBOX_CHECK_INTERVAL_MS, environment: mark });
    cleanups.push({ what: 'HAProxy', run: () => haproxy.stop() });
    const url = `http://127.0.0.1:${haproxy.frontendPort}`;

    const workerEnvironment = localWorkerEnvironment(endpoints, { ...serviceVariables, ...mark });
    const workers = new Map<string, SandboxWorker>();
    let workersVersion = version;
    const launchWorker = (name: string) => {
      workers.set(name, startSandboxWorker({ name, releaseDir: join(paths.releases, workersVersion), env: workerEnvironment, logFile: join(paths.logs, `${name}.log`), ...(options.onWorkerLine ? { onLine: options.onWorkerLine } : {}) }));
    };
    // One change to the workers at a time: a kill, a restart, or following a release.
    let workerChanges: Promise<void> = Promise.resolve();
    const serially = (change: () => Promise<void>): Promise<void> => {
      const next = workerChanges.then(change);
      workerChanges = next.catch(() => undefined);
      return next;
    };
    const restart = async (name: string) => {
      await workers.get(name)!.stop((WORKER_STOP_TIMEOUT_SECONDS + 5) * 1000);
      launchWorker(name);
      await rewriteState();
    };
    for (let index = 1; index <= (options.workers ?? 2); index += 1) launchWorker(`worker${index}`);
    cleanups.push({ what: 'the workers', run: () => serially(async () => void (await Promise.all([...workers.values()].map((worker) => worker.stop((WORKER_STOP_TIMEOUT_SECONDS + 5) * 1000))))) });

    const baseState = {
      pid: process.pid,
      startedAt: Date.now(),
      dir,
      url,
      version,
      haproxy: { socket: haproxy.socketPath, backend: SANDBOX_BACKEND, frontend: SANDBOX_FRONTEND, checkIntervalMs: SANDBOX_CHECK_INTERVAL_MS },
      targetsFile,
      releasesDir: paths.releases,
      sqs: { endpoint: sqs.endpoint, queueUrl: queue.queueUrl, deadLetterQueueUrl: queue.deadLetterQueueUrl!, streamFailureQueueUrl: streamFailures.queueUrl },
      kinesis: { endpoint: kinesis.endpoint, streamName },
      dynamodb: { endpoint: dynamodb.endpoint, checkpointTableName, releaseTableName },
      ...(postgres ? { postgres: { url: postgres.url } } : {}),
      jobSinkUrl: jobSink.url,
    };
    const workerStates = () => [...workers.values()].map((worker) => ({ name: worker.name, pid: worker.pid, log: join(paths.logs, `${worker.name}.log`) }));
    let state: SandboxState = { ...baseState, workers: workerStates() };
    const status = liveSandboxStatus(state, { watchReleaseEveryMs: 200 });
    cleanups.push({ what: 'the status reader', run: async () => status.close() });
    if (options.statusPage) {
      const page = await options.statusPage(status);
      cleanups.push({ what: 'the status page', run: () => page.stop() });
      state = { ...state, statusPageUrl: page.url };
    }
    await writeSandboxState(state);
    async function rewriteState() {
      state = { ...state, workers: workerStates() };
      await writeSandboxState(state);
    }
    const releases = new DynamoDbReleaseStore({ client: dynamodb.documentClient, tableName: releaseTableName });
    const follower = setInterval(() => {
      void serially(async () => {
        const released = await releasedVersion(targets, installer, releases).catch(() => undefined);
        if (released === undefined || released === workersVersion || stopping) return;
        progress(`${released} is on every target and its release is over: restarting the workers on it, one at a time`);
        workersVersion = released;
        for (const name of [...workers.keys()]) await restart(name);
      });
    }, WORKER_FOLLOW_INTERVAL_MS).unref();
    cleanups.push({ what: 'following releases', run: async () => clearInterval(follower) });

    let stopping: Promise<void> | undefined;
    return {
      get state() {
        return state;
      },
      targets,
      jobDeliveries: () => jobSink.deliveries(),
      status,
      workers: () => [...workers.values()],
      workersVersion: () => workersVersion,
      async workersOn(wanted, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        while (workersVersion !== wanted) {
          if (Date.now() > deadline) throw new Error(`the workers did not move to ${wanted} within ${timeoutMs} ms (they run ${workersVersion})`);
          await sleep(100);
        }
        await serially(async () => undefined);
      },
      killWorker(name) {
        if (!workers.has(name)) throw new Error(`no worker named ${name} (the sandbox runs ${[...workers.keys()].join(', ')})`);
        return serially(() => workers.get(name)!.kill());
      },
      restartWorker(name) {
        if (!workers.has(name)) throw new Error(`no worker named ${name} (the sandbox runs ${[...workers.keys()].join(', ')})`);
        return serially(() => restart(name));
      },
      async buildRelease(name) {
        await build(name);
      },
      stop: () => (stopping ??= stopAllStarted()),
    };
  } catch (error) {
    await stopAllStarted().catch((cleanupError: unknown) => progress((cleanupError as Error).message));
    throw error;
  }
}

/** The version on every target once no release is running; undefined while one runs or the targets differ. */
async function releasedVersion(targets: LocalTargetsConfig, installer: LocalProcessInstaller, releases: DynamoDbReleaseStore): Promise<string | undefined> {
  const versions = await Promise.all(targets.targets.map((target) => installer.installedVersion(target.name)));
  const [first] = versions;
  if (first === undefined || versions.some((version) => version !== first)) return undefined;
  return (await releases.readJournal()) === undefined ? first : undefined;
}

/** PostgreSQL with the app's migrations applied, when the machine has it; undefined (and a note) when not. */
async function startDatabase(projectRoot: string, mark: Readonly<Record<string, string>>, progress: (line: string) => void): Promise<{ readonly url: string; stop(): Promise<void> } | undefined> {
  if (postgresBinDirectory() === undefined) {
    progress('PostgreSQL is not installed: the app runs without a database and no migrations are applied (sudo apt-get install -y postgresql to add it)');
    return undefined;
  }
  const server = await startPostgres({ environment: mark });
  try {
    const url = await server.createDatabase('sluice');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const runner = new MigrationRunner({ db: client, directory: join(projectRoot, 'lib/runtime/app/migrations'), appliedBy: 'sluice sandbox' });
      const { applied } = await runner.up();
      progress(`PostgreSQL ${url}: ${applied.length} migration${applied.length === 1 ? '' : 's'} applied (${applied.map(({ script }) => script.fileName).join(', ') || 'none pending'})`);
    } finally {
      await client.end();
    }
    return { url, stop: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * The targets file, and the launcher its command runs: the launcher replaces whatever AWS settings
 * the releasing shell had with the sandbox's, so a service started by any `sluice release` talks to
 * the stand-ins alone.
 */
async function writeTargetsFile(dir: string, variables: Readonly<Record<string, string>>, count: number): Promise<string> {
  await writeFile(join(dir, 'service-env.json'), `${JSON.stringify(variables, null, 2)}\n`);
  const launcher = join(dir, 'launch.mjs');
  await writeFile(
    launcher,
    [
      '// Written by sluice sandbox: the sandbox\'s environment in place of any AWS settings, then the service.',
      "import { readFileSync } from 'node:fs';",
      "import { resolve } from 'node:path';",
      "import { pathToFileURL } from 'node:url';",
      "for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];",
      "Object.assign(process.env, JSON.parse(readFileSync(new URL('./service-env.json', import.meta.url), 'utf8')));",
      'await import(pathToFileURL(resolve(process.argv[2])).href);',
      '',
    ].join('\n'),
  );
  const ports = await freePorts(count);
  const file = {
    releasesDir: 'releases',
    stateDir: 'state',
    command: [process.execPath, '--enable-source-maps', launcher, 'server.mjs'],
    healthPath: '/health',
    stopTimeoutMs: WEB_STOP_TIMEOUT_MS,
    startTimeoutMs: WEB_START_TIMEOUT_MS,
    targets: ports.map((port, index) => ({ name: `app${index + 1}`, port })),
  };
  const targetsFile = join(dir, 'targets.json');
  await writeFile(targetsFile, `${JSON.stringify(file, null, 2)}\n`);
  return targetsFile;
}

/** Refuses to start over a running sandbox; clears what a killed one left (its services, its directory). */
async function clearLeftovers(dir: string, progress: (line: string) => void): Promise<void> {
  const previous = await readSandboxState(dir).catch(() => undefined);
  if (previous?.running) {
    throw new SandboxPrerequisiteError(`a sandbox is running already (pid ${previous.state.pid}, ${previous.state.url}, directory ${dir}): stop it with Ctrl-C in its terminal (or kill ${previous.state.pid}), or pass --dir to start another`);
  }
  if (previous) {
    progress(`clearing what the sandbox of pid ${previous.state.pid} left behind in ${dir}`);
  }
  // Its web apps get no graceful stop: nothing is behind them, as the load balancer went with the sandbox.
  killSandboxProcesses(dir);
  await rm(dir, { recursive: true, force: true });
}
