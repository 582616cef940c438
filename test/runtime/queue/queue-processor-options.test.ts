import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { InvalidQueueProcessorOptionsError } from '../../../lib/runtime/queue/errors.ts';
import { silentLogger } from '../../../lib/runtime/json-logger.ts';
import { QueueProcessor } from '../../../lib/runtime/queue/queue-processor.ts';
import { resolveQueueProcessorOptions } from '../../../lib/runtime/queue/queue-processor-options.ts';

const sqs = new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const base = { sqs, queueUrl: 'http://127.0.0.1:9/123456789012/work', handler: async () => undefined, logger: silentLogger };

describe('QueueProcessor options', () => {
  it('fills in the documented defaults', () => {
    expect(resolveQueueProcessorOptions(base)).toMatchObject({
      parse: 'text',
      concurrency: 32,
      batchSize: 10,
      waitTimeSeconds: 20,
      visibilityTimeoutSeconds: 60,
      handlerTimeoutMs: 900_000,
      abortGraceMs: 1_000,
      failureBackoff: { initial: 5, max: 900 },
      deleteFlushDelayMs: 50,
      sqsRetryBackoff: { initial: 200, max: 20_000 },
      batchAttempts: 5,
      stopDeadlineMs: 30_000,
    });
    expect(new QueueProcessor(base).concurrency).toBe(32);
    // The system clock: wall time.
    expect(Math.abs(resolveQueueProcessorOptions(base).clock.now() - Date.now())).toBeLessThan(1_000);
  });

  it('lists every problem in one error', () => {
    const create = () => new QueueProcessor({ ...base, queueUrl: 'work', concurrency: 0, batchSize: 11, waitTimeSeconds: 0, visibilityTimeoutSeconds: 43_201, failureBackoff: { initialSeconds: 10, maxSeconds: 5 } });
    expect(create).toThrow(InvalidQueueProcessorOptionsError);
    expect(create).toThrow(
      [
        'Invalid QueueProcessor options:',
        '  - queueUrl must be a queue URL (given "work")',
        '  - concurrency must be a whole number between 1 and 10000 (given 0)',
        '  - batchSize must be a whole number between 1 and 10 (given 11)',
        '  - waitTimeSeconds must be a whole number between 1 and 20 seconds (given 0)',
        '  - visibilityTimeoutSeconds must be a whole number between 1 and 43200 seconds (given 43201)',
        '  - failureBackoff.maxSeconds must be a whole number between 10 and 43200 seconds (given 5)',
      ].join('\n'),
    );
  });
});
