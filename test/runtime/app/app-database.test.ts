// The app and its database, against a real PostgreSQL with the app's own migrations: the worker
// records each processed job once (a redelivered message writes nothing a second time), and
// bin/server.ts and bin/worker.ts refuse to start while the journal is behind the release's
// manifest.json — and start when it is not, or without a manifest (development).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processedJobsTable } from '../../../lib/runtime/app/processed-jobs.ts';
import { createWorkHandler, type WorkItem } from '../../../lib/runtime/app/work-handler.ts';
import { MigrationRunner } from '../../../lib/runtime/migrations/migration-runner.ts';
import type { QueueMessage } from '../../../lib/runtime/queue/queue-message.ts';
import { captureOutput } from '../../helpers/child-process.ts';
import { freePort } from '../../helpers/haproxy.ts';
import { type LocalSqs, startLocalSqs } from '../../helpers/local-sqs.ts';
import { query } from '../../helpers/migration-scripts.ts';
import { type LocalPostgres, requirePostgres, startPostgres } from '../../helpers/postgres-server.ts';
import { projectRoot } from '../../helpers/run-cdk.ts';
import { capturingLogger } from '../queue/processor-harness.ts';

const APP_MIGRATIONS = join(projectRoot, 'lib/runtime/app/migrations');

function message(messageId: string, body: WorkItem, receiveCount = 1): QueueMessage<WorkItem> {
  return { messageId, body, rawBody: JSON.stringify(body), receiveCount, attributes: {}, messageAttributes: {} };
}

describe.skipIf(!requirePostgres())('the app database', () => {
  let server: LocalPostgres;
  let sqs: LocalSqs;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    [server, sqs] = await Promise.all([startPostgres(), startLocalSqs()]);
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all([server?.stop(), sqs?.stop()]);
  });

  /** A database with the app's migrations applied. */
  async function appDatabase(): Promise<string> {
    const url = await server.createDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await new MigrationRunner({ db: client, directory: APP_MIGRATIONS, appliedBy: 'test' }).up();
    } finally {
      await client.end();
    }
    return url;
  }

  it('records a processed job once: the redelivered message writes nothing a second time', async () => {
    const url = await appDatabase();
    const pool = new pg.Pool({ connectionString: url });
    try {
      const logger = capturingLogger();
      const handle = createWorkHandler({ processedJobs: processedJobsTable(pool), logger });
      await handle(message('m-1', { type: 'send-invoice' }), { signal: new AbortController().signal, receiveCount: 1 });
      const [first] = await query<{ processed_at: Date }>(url, "SELECT processed_at FROM processed_jobs WHERE message_id = 'm-1'");
      // SQS hands the same message out again (its delete was lost): same id, a higher receive count.
      await handle(message('m-1', { type: 'send-invoice' }, 2), { signal: new AbortController().signal, receiveCount: 2 });
      await handle(message('m-2', { type: 'send-reminder' }), { signal: new AbortController().signal, receiveCount: 1 });
      expect(await query(url, 'SELECT message_id, job_type, processed_at FROM processed_jobs ORDER BY message_id')).toEqual([
        { message_id: 'm-1', job_type: 'send-invoice', processed_at: first!.processed_at },
        { message_id: 'm-2', job_type: 'send-reminder', processed_at: expect.any(Date) },
      ]);
      expect(logger.lines.filter((line) => line.event === 'work_already_recorded').map((line) => line.fields.messageId)).toEqual(['m-1']);
    } finally {
      await pool.end();
    }
  });

  /** bin/<entry> in a process whose working directory is `releaseDir`, as systemd runs it. */
  function start(entry: 'server' | 'worker', releaseDir: string, env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
    const tsx = pathToFileURL(join(projectRoot, 'node_modules/tsx/dist/loader.mjs')).href;
    const child = spawn(process.execPath, ['--import', tsx, join(projectRoot, `bin/${entry}.ts`)], {
      cwd: releaseDir,
      env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_EC2_METADATA_DISABLED: 'true', ...env },
    });
    children.push(child);
    const output = captureOutput(child);
    return { child, output: () => output.text, exited: once(child, 'exit').then(([code]) => code as number | null) };
  }

  /** A release directory whose manifest.json requires `requiredMigration` (none: no manifest, development). */
  function releaseDir(requiredMigration?: number): string {
    const directory = mkdtempSync(join(tmpdir(), 'sluice-release-'));
    if (requiredMigration !== undefined) writeFileSync(join(directory, 'manifest.json'), JSON.stringify({ version: 'test', requiredMigration, files: [] }));
    return directory;
  }

  async function healthy(port: number): Promise<boolean> {
    for (let attempt = 0; attempt < 600; attempt += 1) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((response) => response.ok, () => false);
      if (ok) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  describe.concurrent('start-up', () => {
    it('bin/server.ts and bin/worker.ts refuse to start on a database behind the release: exit 1, saying what to run', async () => {
      // The app's migrations are applied (0001 is the highest); the release needs a 0002.
      const url = await appDatabase();
      const release = releaseDir(2);
      const server = start('server', release, { DATABASE_URL: url, APP_PORT: String(await freePort()), WORK_QUEUE_URL: 'http://127.0.0.1:1/queue', EVENT_STREAM_NAME: 'events' });
      const worker = start('worker', release, { DATABASE_URL: url });
      expect(await server.exited).toBe(1);
      expect(await worker.exited).toBe(1);
      const reason = 'the database is at migration 0001, but this release needs migration 0002: apply the migrations first (`cdk deploy` runs them; locally `npx sluice migrate up --database-url <url>`), then start it again';
      expect(JSON.parse(server.output().trim().split('\n').at(-1)!)).toMatchObject({ level: 'error', event: 'web.database_refused', reason });
      expect(JSON.parse(worker.output().trim().split('\n').at(-1)!)).toMatchObject({ level: 'error', event: 'worker.database_refused', reason });
    }, 120_000);

    it('a database without any journal counts as behind', async () => {
      const url = await server.createDatabase();
      const worker = start('worker', releaseDir(0), { DATABASE_URL: url });
      expect(await worker.exited).toBe(1);
      expect(worker.output()).toContain('the database has no migration journal (no migration ever ran on it), but this release needs migration 0000');
    }, 120_000);

    it('bin/server.ts starts on a database at the release migration, and without a manifest (development) checks nothing', async () => {
      const current = await appDatabase();
      const empty = await server.createDatabase();
      const [atRelease, development] = [await freePort(), await freePort()];
      const env = { WORK_QUEUE_URL: 'http://127.0.0.1:1/queue', EVENT_STREAM_NAME: 'events' };
      const one = start('server', releaseDir(1), { ...env, DATABASE_URL: current, APP_PORT: String(atRelease) });
      const two = start('server', releaseDir(), { ...env, DATABASE_URL: empty, APP_PORT: String(development) });
      expect(await healthy(atRelease)).toBe(true);
      expect(await healthy(development)).toBe(true);
      one.child.kill('SIGTERM');
      two.child.kill('SIGTERM');
      expect([await one.exited, await two.exited]).toEqual([0, 0]);
    }, 120_000);

    it('bin/worker.ts records each job it takes off the queue in processed_jobs', async () => {
      const url = await appDatabase();
      const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 });
      const ids = await sqs.send(queueUrl, [JSON.stringify({ type: 'send-invoice', invoiceId: 7 }), JSON.stringify({ type: 'send-reminder' })]);
      const worker = start('worker', releaseDir(1), { DATABASE_URL: url, QUEUE_URL: queueUrl, AWS_ENDPOINT_URL_SQS: sqs.endpoint, WORKER_STOP_TIMEOUT_SECONDS: '7' });
      const deadline = Date.now() + 60_000;
      let rows: Record<string, unknown>[] = [];
      while (rows.length < 2 && Date.now() < deadline) {
        rows = await query(url, 'SELECT message_id, job_type FROM processed_jobs ORDER BY job_type');
        if (rows.length < 2) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(rows).toEqual([
        { message_id: ids[0], job_type: 'send-invoice' },
        { message_id: ids[1], job_type: 'send-reminder' },
      ]);
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(worker.output()).not.toContain('database_refused');
    }, 120_000);
  });
});
