#!/usr/bin/env -S node --import tsx
// The web app (systemd sluice-web.service): serves on APP_PORT behind the ALB, reports SLUICE_VERSION
// on HEALTH_CHECK_PATH and /version, enqueues POST /jobs on WORK_QUEUE_URL and puts POST /events on
// EVENT_STREAM_NAME (both always in /etc/sluice/env, whoever consumes them), and stops gracefully on
// SIGTERM within the unit's 30 s TimeoutStopSec. Its metrics (Requests, Latency, JobsAccepted) go
// out as embedded-metric-format lines on standard output, with Stage from SLUICE_STAGE.
// The pinned AWS SDK runs on Node.js 20; its notice about future SDK releases needing Node.js 22
// is not for the people reading a release's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { SQSClient } from '@aws-sdk/client-sqs';
import { WebApp } from '../lib/runtime/app/web-app.ts';
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
});
await app.start();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    // 25 s of the unit's 30: the ALB has already drained this target when a release stops it, and
    // a POST still in flight (its SendMessage or PutRecord included) gets that long to finish.
    void app.stop({ deadlineMs: 25_000 }).then(() => process.exit(0));
  });
}
