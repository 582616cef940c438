import type { AccessLogsBucketProps } from './access-logs-bucket.ts';

/** The access-log bucket's defaults, read by the construct. Why each value: see AccessLogsBucketProps. */
export const ACCESS_LOGS_DEFAULTS: Readonly<Required<AccessLogsBucketProps>> = {
  retentionDays: 90,
  // Long enough to notice a deletion in a monthly review; each day adds a day of log storage.
  noncurrentRetentionDays: 30,
};
