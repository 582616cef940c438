// What an error from an SQS call means for the worker: stop (access), try again later (transient),
// ignore (the call was aborted on purpose), or report and try again later (anything else).
import { isTransientAwsError } from '../transient-aws-error.ts';

export type SqsErrorKind = 'aborted' | 'access' | 'transient' | 'other';

/** Errors about who is calling or what is called: retrying with the same credentials and URL cannot help. */
const ACCESS_CODES = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'InvalidSecurity',
  'MissingAuthenticationToken',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'KmsAccessDenied',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
]);

/** SQS-specific codes that clear up by themselves. */
const TRANSIENT_CODES = new Set(['RequestThrottled', 'KmsThrottled', 'OverLimit', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'TimeoutError']);

/** Socket-level failures: the request may not have reached SQS at all. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_SOCKET']);

/** The AWS error code (or the error's name when it has none). */
export function awsCodeOf(error: unknown): string {
  if (!(error instanceof Error)) return 'UnknownError';
  const code = (error as { Code?: unknown }).Code;
  return typeof code === 'string' ? code : error.name;
}

export function classifySqsError(error: unknown): SqsErrorKind {
  if (!(error instanceof Error)) return 'other';
  if (error.name === 'AbortError') return 'aborted';
  const code = awsCodeOf(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (ACCESS_CODES.has(code) || ACCESS_CODES.has(error.name) || status === 403) return 'access';
  if (TRANSIENT_CODES.has(code) || isTransientAwsError(error)) return 'transient';
  const networkCode = (error as { code?: unknown }).code;
  if (typeof networkCode === 'string' && NETWORK_CODES.has(networkCode)) return 'transient';
  return 'other';
}
