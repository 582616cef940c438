#!/usr/bin/env -S node --import tsx
// The worker (systemd sluice-worker.service): runs the queue processor on QUEUE_URL and the stream
// consumer on STREAM_NAME / CHECKPOINT_TABLE_NAME (failures to STREAM_FAILURE_QUEUE_URL) side by
// side with the app's handlers, until SIGTERM; then both stop gracefully within
// WORKER_STOP_TIMEOUT_SECONDS (systemd's TimeoutStopSec) less 5 s, and the stream's leases are
// released for the other instances. With neither set it exits 0 (Lambda consumes both).
// With a database (DATABASE_URL, or DATABASE_SECRET_ARN on an instance) it first checks that the
// journal has the migration the release's manifest.json requires — exit 1 if not — and records each
// processed job in processed_jobs.
// The pinned AWS SDK runs on Node.js 20; its notice about future SDK releases needing Node.js 22
// is not for the people reading a release's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { join } from 'node:path';
import { type AppDatabase, createAppPool, prepareAppDatabase } from '../lib/runtime/app/app-database.ts';
import { processEvents } from '../lib/runtime/app/event-handler.ts';
import { processedJobsTable } from '../lib/runtime/app/processed-jobs.ts';
import { createWorkHandler, handleWork, parseWorkItem } from '../lib/runtime/app/work-handler.ts';
import { jsonLogger } from '../lib/runtime/json-logger.ts';
import { runWorkerFromEnvironment } from '../lib/runtime/worker/worker-from-environment.ts';

const logger = jsonLogger({ component: 'worker' });
let database: AppDatabase | undefined;
try {
  // systemd's WorkingDirectory is the release, so its manifest.json is here; none in development.
  database = await prepareAppDatabase(process.env, { manifestPath: join(process.cwd(), 'manifest.json'), applicationName: 'sluice worker' });
} catch (error) {
  // Exit 1: systemd shows why, the install's health check fails, and the release rolls back.
  logger.log('error', 'worker.database_refused', { reason: (error as Error).message });
  process.exit(1);
}
const pool = database ? createAppPool(database, logger) : undefined;
const handler = pool ? createWorkHandler({ externalApiUrl: process.env.EXTERNAL_API_URL || undefined, processedJobs: processedJobsTable(pool) }) : handleWork;
process.exitCode = await runWorkerFromEnvironment(process.env, { queue: { handler, parse: parseWorkItem }, stream: { processor: processEvents } }, { logger });
await pool?.end();
