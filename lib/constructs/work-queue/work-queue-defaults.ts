import { Duration } from 'aws-cdk-lib';
import type { WorkQueueLambdaConsumerProps, WorkQueueSettings } from './work-queue.ts';

/** The work queue's defaults, read by the construct and its validator. Why each value: see WorkQueueSettings. */
export const WORK_QUEUE_DEFAULTS: Readonly<Required<WorkQueueSettings>> = {
  queueVisibilityTimeout: Duration.seconds(60),
  maxReceiveCount: 5,
  queueRetention: Duration.days(4),
};

/** The Lambda consumer's defaults. Why each value: see WorkQueueLambdaConsumerProps. */
export const WORK_QUEUE_LAMBDA_CONSUMER_DEFAULTS: Readonly<Required<Omit<WorkQueueLambdaConsumerProps, 'maxBatchingWindow'>>> = {
  maxConcurrency: 10,
  batchSize: 10,
  // Six of them fit the default 60-second visibility timeout, as AWS recommends.
  timeout: Duration.seconds(10),
};
