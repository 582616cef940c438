import { Duration } from 'aws-cdk-lib';
import { StreamMode } from 'aws-cdk-lib/aws-kinesis';
import type { EventStreamLambdaConsumerProps, EventStreamSettings } from './event-stream.ts';

/**
 * The event stream's defaults, read by the construct and its validator. `shardCount` applies to a
 * PROVISIONED stream only. Why each value: see EventStreamSettings.
 */
export const EVENT_STREAM_DEFAULTS: Readonly<Required<EventStreamSettings>> = {
  streamMode: StreamMode.ON_DEMAND,
  shardCount: 1,
  streamRetention: Duration.days(7),
};

/** The Lambda consumer's defaults; `maxRecordAge` follows the stream's retention. Why each value: see EventStreamLambdaConsumerProps. */
export const EVENT_STREAM_LAMBDA_CONSUMER_DEFAULTS: Readonly<Required<Omit<EventStreamLambdaConsumerProps, 'maxRecordAge'>>> = {
  batchSize: 100,
  // As many as the instance consumer's processorRetries.
  retryAttempts: 3,
  timeout: Duration.seconds(60),
};

/** The most Lambda allows for an event source's maximum record age. */
export const MAX_RECORD_AGE_LIMIT = Duration.days(7);
