// The Lambda consumer of the work queue: runs the app's work handler over each SQS batch and
// reports the failed messages by id (ReportBatchItemFailures), so that only those are retried.
// The work itself is lib/runtime/app/work-handler.ts; the batch logic lib/runtime/queue/sqs-batch-processor.ts.
import type { SQSHandler } from 'aws-lambda';
import { handleWork, parseWorkItem } from '../lib/runtime/app/work-handler.ts';
import { createSqsBatchProcessor } from '../lib/runtime/queue/sqs-batch-processor.ts';

const processBatch = createSqsBatchProcessor({ handler: handleWork, parse: parseWorkItem });

export const handler: SQSHandler = async (event, context) => processBatch(event, context);
