import { Token } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { SettingsProblems } from '../settings-validation.ts';

/** How long the stack's log groups keep their events: one setting per stage, for every group. */
export interface LogGroupSettings {
  /**
   * Days every log group of the stage keeps its events (the services' groups on the instances and
   * the Lambda consumers' groups); one of the values CloudWatch Logs allows.
   * @default DEFAULT_LOG_RETENTION (one year, the least CT.CLOUDWATCH.PR.2 accepts)
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The retention periods PutRetentionPolicy accepts, in days. CDK's RetentionDays also has INFINITE,
 * which is left out: a stage's logs always expire, so their cost stays bounded.
 */
export const CLOUDWATCH_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** Every problem with the log settings. */
export function validateLogGroupSettings(settings: LogGroupSettings): string[] {
  const check = new SettingsProblems();
  const days = settings.logRetention;
  if (days !== undefined && !Token.isUnresolved(days) && !CLOUDWATCH_RETENTION_DAYS.includes(days)) {
    check.add(`logRetention must be one of ${CLOUDWATCH_RETENTION_DAYS.join(', ')} days, the periods CloudWatch Logs allows (given ${days})`);
  }
  return [...check.list];
}
