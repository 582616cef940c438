import { StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { SettingsProblems } from '../settings-validation.ts';
import { EVENT_STREAM_DEFAULTS } from './event-stream-defaults.ts';
import type { EventStreamProps } from './event-stream.ts';

/**
 * Every problem with the event stream's settings; the ranges are Kinesis's and Lambda's limits. The
 * construct passes its props with the Lambda consumer's defaults applied, so that maxRecordAge is
 * checked against the retention that will be deployed.
 */
export function validateEventStreamSettings(settings: EventStreamProps): string[] {
  const check = new SettingsProblems();
  const modes = Object.values(StreamMode) as string[];
  if (settings.streamMode !== undefined && !modes.includes(settings.streamMode)) {
    check.add(`streamMode must be one of ${modes.join(', ')} (given "${settings.streamMode}")`);
  }
  if (settings.shardCount !== undefined && (settings.streamMode ?? EVENT_STREAM_DEFAULTS.streamMode) === StreamMode.ON_DEMAND) {
    check.add(`shardCount applies only when streamMode is PROVISIONED (given ${settings.shardCount} with ON_DEMAND); remove it or set streamMode to PROVISIONED`);
  } else {
    check.wholeNumber('shardCount', settings.shardCount, 1, 10_000);
  }
  check.hoursInRange('streamRetention', settings.streamRetention, 24, 8760);

  const consumer = settings.lambdaConsumer;
  if (consumer) {
    check.wholeNumber('lambdaConsumer.batchSize', consumer.batchSize, 1, 10_000);
    check.wholeNumber('lambdaConsumer.retryAttempts', consumer.retryAttempts, 0, 10_000);
    check.secondsInRange('lambdaConsumer.maxRecordAge', consumer.maxRecordAge, 60, 604_800);
    check.secondsInRange('lambdaConsumer.timeout', consumer.timeout, 1, 900);
    // Lambda would never see a record that old: the stream has dropped it by then.
    const age = consumer.maxRecordAge;
    const retention = settings.streamRetention ?? EVENT_STREAM_DEFAULTS.streamRetention;
    if (age && !age.isUnresolved() && !retention.isUnresolved() && age.toSeconds({ integral: false }) > retention.toSeconds()) {
      check.add(`lambdaConsumer.maxRecordAge must be at most streamRetention (${retention.toHours()} hours): older records are gone from the stream (given ${age.toSeconds({ integral: false })} seconds)`);
    }
  }
  return [...check.list];
}
