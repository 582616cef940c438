// A worker process for the shutdown tests: the real runWorker (signals, graceful stop) around a
// queue processor whose handler records what it did. Env: QUEUE_URL, SQS_ENDPOINT, RECORD_FILE,
// HANDLER_MS, CONCURRENCY, STOP_DEADLINE_MS.
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SQSClient } from '@aws-sdk/client-sqs';
import { jsonLogger } from '../../lib/runtime/json-logger.ts';
import { QueueProcessor } from '../../lib/runtime/queue/queue-processor.ts';
import { runWorker } from '../../lib/runtime/worker/run-worker.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`test-worker: ${name} is not set`);
  return value;
};
const record = env('RECORD_FILE');
const handlerMs = Number(env('HANDLER_MS'));

const logger = jsonLogger({ component: 'test-worker', level: 'warn' });
const stopDeadlineMs = Number(env('STOP_DEADLINE_MS'));
const processor = new QueueProcessor<string>({
  sqs: new SQSClient({ endpoint: env('SQS_ENDPOINT'), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  queueUrl: env('QUEUE_URL'),
  concurrency: Number(env('CONCURRENCY')),
  waitTimeSeconds: 1,
  visibilityTimeoutSeconds: 5,
  logger,
  handler: async (message, { signal }) => {
    // One line per event, written synchronously: what is on disk is what happened.
    appendFileSync(record, `start ${message.body} ${Date.now()}\n`);
    await sleep(handlerMs, undefined, { signal });
    appendFileSync(record, `done ${message.body} ${Date.now()}\n`);
  },
});
process.exitCode = await runWorker({ services: [{ name: 'queue', service: processor }], logger, stopDeadlineMs });
