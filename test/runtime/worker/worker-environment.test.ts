import { describe, expect, it } from 'vitest';
import { InvalidWorkerEnvironmentError, readWorkerEnvironment } from '../../../lib/runtime/worker/worker-environment.ts';

const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-dev-work';
const failureQueueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-dev-stream-failures';

describe('readWorkerEnvironment', () => {
  it('runs the queue and the stream from the stack\'s variables, stopping 5 s inside systemd\'s stop timeout', () => {
    expect(readWorkerEnvironment({ QUEUE_URL: queueUrl, STREAM_NAME: 'events', CHECKPOINT_TABLE_NAME: 'checkpoints', STREAM_FAILURE_QUEUE_URL: failureQueueUrl, WORKER_STOP_TIMEOUT_SECONDS: '90' })).toEqual({
      queue: { queueUrl, concurrency: 32, visibilityTimeoutSeconds: 60 },
      stream: { streamName: 'events', checkpointTableName: 'checkpoints', failureQueueUrl },
      stopDeadlineMs: 85_000,
    });
  });

  it('runs neither when Lambda consumes both, with a stop deadline of 55 s by default and at least 1 s', () => {
    expect(readWorkerEnvironment({})).toEqual({ stopDeadlineMs: 55_000 });
    expect(readWorkerEnvironment({ WORKER_STOP_TIMEOUT_SECONDS: '3' }).stopDeadlineMs).toBe(1_000);
  });

  it('runs only the stream when the queue is Lambda\'s', () => {
    const settings = readWorkerEnvironment({ STREAM_NAME: 'events', CHECKPOINT_TABLE_NAME: 'checkpoints' });
    expect(settings.queue).toBeUndefined();
    expect(settings.stream).toEqual({ streamName: 'events', checkpointTableName: 'checkpoints' });
  });

  it('hides a received job for WORKER_VISIBILITY_TIMEOUT_SECONDS (a crashed worker\'s jobs return that soon), within SQS\'s 12 hours', () => {
    expect(readWorkerEnvironment({ QUEUE_URL: queueUrl, WORKER_VISIBILITY_TIMEOUT_SECONDS: '10' }).queue).toEqual({ queueUrl, concurrency: 32, visibilityTimeoutSeconds: 10 });
    expect(() => readWorkerEnvironment({ QUEUE_URL: queueUrl, WORKER_VISIBILITY_TIMEOUT_SECONDS: '43201' })).toThrow('WORKER_VISIBILITY_TIMEOUT_SECONDS must be a whole number between 1 and 43200 seconds (given "43201")');
  });

  it('lists every problem at once', () => {
    const reading = () => readWorkerEnvironment({ QUEUE_URL: 'work', WORKER_CONCURRENCY: '0', CHECKPOINT_TABLE_NAME: 'checkpoints', STREAM_FAILURE_QUEUE_URL: 'failures', WORKER_STOP_TIMEOUT_SECONDS: 'soon' });
    expect(reading).toThrow(InvalidWorkerEnvironmentError);
    expect(reading).toThrow(
      [
        "the worker's environment (/etc/sluice/env) is not usable:",
        '  - WORKER_STOP_TIMEOUT_SECONDS must be a whole number between 1 and 86400 seconds (given "soon")',
        '  - QUEUE_URL must be a queue URL (given "work")',
        '  - WORKER_CONCURRENCY must be a whole number between 1 and 10000 (given "0")',
        '  - STREAM_NAME and CHECKPOINT_TABLE_NAME must be set together or not at all (given only CHECKPOINT_TABLE_NAME)',
        '  - STREAM_FAILURE_QUEUE_URL must be a queue URL (given "failures")',
      ].join('\n'),
    );
  });
});
