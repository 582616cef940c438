import type { AccessLogsBucketProps } from './access-logs-bucket.ts';

/** The access-log bucket's defaults, read by the construct. */
export const ACCESS_LOGS_DEFAULTS: Readonly<Required<AccessLogsBucketProps>> = {
  retentionDays: 90,
};
