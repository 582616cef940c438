// The Lambda consumer of the work queue: runs the app's work handler over each SQS batch and
// reports the failed messages by id (ReportBatchItemFailures), so that only those are retried.
// The work itself is lib/runtime/app/work-handler.ts; the batch logic lib/runtime/queue/sqs-batch-processor.ts;
// the job metrics (Service queue-lambda, Stage from SLUICE_STAGE) lib/runtime/worker/queue-lambda-metrics.ts.
import type { SQSHandler } from 'aws-lambda';
import { handleWork, parseWorkItem } from '../lib/runtime/app/work-handler.ts';
import { jsonLogger } from '../lib/runtime/json-logger.ts';
import { serviceMetrics } from '../lib/runtime/service-metrics.ts';
import { createMeasuredSqsBatchProcessor } from '../lib/runtime/worker/queue-lambda-metrics.ts';

const logger = jsonLogger({ component: 'queue-consumer' });
// Flushed at the end of each invocation, not on a timer: Lambda freezes the sandbox between them.
const metrics = serviceMetrics({ service: 'queue-lambda', env: process.env, logger, flushIntervalMs: 0 });
const processBatch = createMeasuredSqsBatchProcessor({ handler: handleWork, parse: parseWorkItem, logger }, metrics);

export const handler: SQSHandler = async (event, context) => processBatch(event, context);
