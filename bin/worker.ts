#!/usr/bin/env -S node --import tsx
// The worker (systemd sluice-worker.service): runs the queue processor on QUEUE_URL and the stream
// consumer on STREAM_NAME / CHECKPOINT_TABLE_NAME (failures to STREAM_FAILURE_QUEUE_URL) side by
// side with the app's handlers, until SIGTERM; then both stop gracefully within
// WORKER_STOP_TIMEOUT_SECONDS (systemd's TimeoutStopSec) less 5 s, and the stream's leases are
// released for the other instances. With neither set it exits 0 (Lambda consumes both).
// The pinned AWS SDK runs on Node.js 20; its notice about future SDK releases needing Node.js 22
// is not for the people reading a release's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { processEvents } from '../lib/runtime/app/event-handler.ts';
import { handleWork, parseWorkItem } from '../lib/runtime/app/work-handler.ts';
import { jsonLogger } from '../lib/runtime/json-logger.ts';
import { runWorkerFromEnvironment } from '../lib/runtime/worker/worker-from-environment.ts';

process.exitCode = await runWorkerFromEnvironment(
  process.env,
  { queue: { handler: handleWork, parse: parseWorkItem }, stream: { processor: processEvents } },
  { logger: jsonLogger({ component: 'worker' }) },
);
