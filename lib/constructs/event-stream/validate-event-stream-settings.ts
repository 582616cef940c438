import { StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { SettingsProblems } from '../settings-validation.ts';
import { EVENT_STREAM_DEFAULTS } from './event-stream-defaults.ts';
import type { EventStreamSettings } from './event-stream.ts';

/** Every problem with the event stream's settings; the ranges are Kinesis's limits. */
export function validateEventStreamSettings(settings: EventStreamSettings): string[] {
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
  return [...check.list];
}
