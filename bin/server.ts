#!/usr/bin/env -S node --import tsx
// The web app (systemd sluice-web.service): serves on APP_PORT behind the ALB, reports SLUICE_VERSION
// on HEALTH_CHECK_PATH and /version, enqueues POST /jobs on WORK_QUEUE_URL and puts POST /events on
// EVENT_STREAM_NAME (both always in /etc/sluice/env, whoever consumes them), and stops gracefully on
// SIGTERM within the unit's 30 s TimeoutStopSec. With a database (DATABASE_URL, or
// DATABASE_SECRET_ARN on an instance) it refuses to start while the journal is behind the
// migration the release's manifest.json requires. Feature flags come from the AppConfig
// configuration named by FLAGS_APPLICATION_ID, FLAGS_ENVIRONMENT_ID and
// FLAGS_CONFIGURATION_PROFILE_ID (without them: the code defaults).
// Its metrics (Requests, Latency, JobsAccepted) go out as embedded-metric-format lines on
// standard output, with Stage from SLUICE_STAGE.
// The pinned AWS SDK runs on Node.js 20; its notice about future SDK releases needing Node.js 22
// is not for the people reading a release's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { join } from 'node:path';
import { AppConfigDataClient } from '@aws-sdk/client-appconfigdata';
import { SQSClient } from '@aws-sdk/client-sqs';
import { prepareAppDatabase } from '../lib/runtime/app/app-database.ts';
import { appFlags } from '../lib/runtime/app/flags.ts';
import { WebApp } from '../lib/runtime/app/web-app.ts';
import { flagsFromEnvironment, type InstanceFlags } from '../lib/runtime/flags/flags-from-environment.ts';
import { jsonLogger } from '../lib/runtime/json-logger.ts';
import { createKinesisClient } from '../lib/runtime/kinesis-client.ts';
import { serviceMetrics } from '../lib/runtime/service-metrics.ts';

const logger = jsonLogger({ component: 'web' });
const missing = ['WORK_QUEUE_URL', 'EVENT_STREAM_NAME'].filter((name) => !process.env[name]);
if (missing.length > 0) {
  // Exit 1: the unit restarts it, the install's health check fails, and the release rolls back.
  logger.log('error', 'web.misconfigured', { reason: `${missing.join(' and ')} must be set (in /etc/sluice/env on an instance)` });
  process.exit(1);
}
let metrics;
try {
  metrics = serviceMetrics({ service: 'web', env: process.env, logger });
} catch (error) {
  logger.log('error', 'web.misconfigured', { reason: (error as Error).message });
  process.exit(1);
}
try {
  // systemd's WorkingDirectory is the release, so its manifest.json is here; none in development.
  await prepareAppDatabase(process.env, { manifestPath: join(process.cwd(), 'manifest.json'), applicationName: 'sluice web' });
} catch (error) {
  logger.log('error', 'web.database_refused', { reason: (error as Error).message });
  process.exit(1);
}
let flags: InstanceFlags;
try {
  flags = flagsFromEnvironment(process.env, { client: () => new AppConfigDataClient({}), definitions: appFlags, logger: jsonLogger({ component: 'flags' }) });
} catch (error) {
  logger.log('error', 'web.misconfigured', { reason: (error as Error).message });
  process.exit(1);
}
// Resolves after the first refresh, whether AppConfig answered or not (each call is bounded), so the
// first requests see the deployed values when AppConfig is up and the code defaults when it is not.
await flags.start();
const app = new WebApp({
  version: process.env.SLUICE_VERSION ?? 'unknown',
  port: Number(process.env.APP_PORT ?? process.env.PORT ?? 8080),
  healthPath: process.env.HEALTH_CHECK_PATH ?? '/health',
  logger,
  metrics,
  workQueue: { sqs: new SQSClient({}), queueUrl: process.env.WORK_QUEUE_URL! },
  eventStream: {
    kinesis: createKinesisClient(process.env),
    streamName: process.env.EVENT_STREAM_NAME!,
  },
  flags,
});
await app.start();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    // 25 s of the unit's 30: the ALB has already drained this target when a release stops it, and
    // a POST still in flight (its SendMessage or PutRecord included) gets that long to finish.
    void Promise.all([app.stop({ deadlineMs: 25_000 }), flags.stop()]).then(() => process.exit(0));
  });
}
