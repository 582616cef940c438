// The Lambda consumer of the event stream: runs the app's record processor over each Kinesis batch
// and reports the first record not done (ReportBatchItemFailures), so that Lambda checkpoints just
// before it, as the instance consumer does. The work itself is lib/runtime/app/event-handler.ts; the
// batch logic lib/runtime/stream/kinesis-batch-processor.ts; the metrics (Service stream-lambda, Stage
// from SLUICE_STAGE) lib/runtime/worker/stream-lambda-metrics.ts.
import type { KinesisStreamHandler } from 'aws-lambda';
import { processEvents } from '../lib/runtime/app/event-handler.ts';
import { jsonLogger } from '../lib/runtime/json-logger.ts';
import { serviceMetrics } from '../lib/runtime/service-metrics.ts';
import { createMeasuredKinesisBatchProcessor } from '../lib/runtime/worker/stream-lambda-metrics.ts';

const logger = jsonLogger({ component: 'stream-lambda-consumer' });
// Flushed at the end of each invocation, not on a timer: Lambda freezes the sandbox between them.
const metrics = serviceMetrics({ service: 'stream-lambda', env: process.env, logger, flushIntervalMs: 0 });
const processBatch = createMeasuredKinesisBatchProcessor({ processor: processEvents, logger }, metrics);

export const handler: KinesisStreamHandler = async (event, context) => processBatch(event, context);
