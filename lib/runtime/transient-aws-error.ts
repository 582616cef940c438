// Which AWS errors are worth retrying; shared by the release adapters and the queue worker.

/** Throttling error codes across the services sluice calls (ELBv2, SSM, CloudWatch, Auto Scaling, CloudFormation, S3, SQS). */
const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'PriorRequestNotComplete',
  'PriorRequestNotCompleteException',
]);

/** True for errors that succeed when tried again later: throttling, HTTP 429 and 5xx. */
export function isTransientAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (THROTTLING_CODES.has(error.name)) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status === 429 || (status !== undefined && status >= 500)) return true;
  return (error as { $retryable?: { throttling?: boolean } }).$retryable?.throttling === true;
}
