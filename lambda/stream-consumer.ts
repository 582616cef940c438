// The Lambda consumer of the event stream: runs the app's record processor over each Kinesis batch
// and reports the first record not done (ReportBatchItemFailures), so that Lambda checkpoints just
// before it, as the instance consumer does. The work itself is lib/runtime/app/event-handler.ts; the
// batch logic lib/runtime/stream/kinesis-batch-processor.ts.
import type { KinesisStreamHandler } from 'aws-lambda';
import { processEvents } from '../lib/runtime/app/event-handler.ts';
import { createKinesisBatchProcessor } from '../lib/runtime/stream/kinesis-batch-processor.ts';

const processBatch = createKinesisBatchProcessor({ processor: processEvents });

export const handler: KinesisStreamHandler = async (event, context) => processBatch(event, context);
