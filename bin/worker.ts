#!/usr/bin/env -S node --import tsx
// The queue worker (systemd sluice-worker.service): processes QUEUE_URL with the app's handler until
// SIGTERM, then stops gracefully within WORKER_STOP_TIMEOUT_SECONDS (systemd's TimeoutStopSec).
// The pinned AWS SDK runs on Node.js 20; its notice about future SDK releases needing Node.js 22
// is not for the people reading a release's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { SQSClient } from '@aws-sdk/client-sqs';
import { handleWork, parseWorkItem } from '../lib/runtime/app/work-handler.ts';
import { jsonLogger } from '../lib/runtime/json-logger.ts';
import { runWorker } from '../lib/runtime/queue/run-worker.ts';

const logger = jsonLogger({ component: 'worker' });
const queueUrl = process.env.QUEUE_URL;
if (!queueUrl) {
  // The stage's queue is consumed by Lambda (queueConsumer: lambda): nothing to do here, and exiting
  // 0 keeps systemd (Restart=on-failure) from restarting the worker.
  logger.log('info', 'worker.idle', { reason: 'QUEUE_URL is not set in /etc/sluice/env: this stage consumes the queue with Lambda' });
  process.exit(0);
}
const stopTimeoutSeconds = Number(process.env.WORKER_STOP_TIMEOUT_SECONDS ?? 60);
const concurrency = Number(process.env.WORKER_CONCURRENCY ?? 32);

process.exitCode = await runWorker({
  sqs: new SQSClient({}),
  queueUrl,
  handler: handleWork,
  parse: parseWorkItem,
  concurrency,
  logger,
  // 5 s of systemd's stop timeout are kept for handing messages back and the last deletes.
  stopDeadlineMs: Math.max(1, stopTimeoutSeconds - 5) * 1000,
});
