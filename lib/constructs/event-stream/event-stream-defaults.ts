import { Duration } from 'aws-cdk-lib';
import { StreamMode } from 'aws-cdk-lib/aws-kinesis';
import type { EventStreamSettings } from './event-stream.ts';

/**
 * The event stream's defaults, read by the construct and its validator. `shardCount` applies to a
 * PROVISIONED stream only. Why each value: see EventStreamSettings.
 */
export const EVENT_STREAM_DEFAULTS: Readonly<Required<EventStreamSettings>> = {
  streamMode: StreamMode.ON_DEMAND,
  shardCount: 1,
  streamRetention: Duration.days(7),
};
