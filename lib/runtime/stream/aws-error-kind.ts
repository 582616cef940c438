// What an error from a Kinesis, DynamoDB or SQS call means for the consumer.

/** Errors about who is calling: retrying with the same credentials cannot help. */
const ACCESS_CODES = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'MissingAuthenticationToken',
  'UnrecognizedClientException',
  'KMSAccessDeniedException',
]);

/** The AWS error code (or the error's name when it has none). */
export function awsCodeOf(error: unknown): string {
  if (!(error instanceof Error)) return 'UnknownError';
  const code = (error as { Code?: unknown }).Code;
  return typeof code === 'string' ? code : error.name;
}

/**
 * True when the consumer cannot work at all: refused credentials or permissions, or (for the calls
 * every worker needs: ListShards and the lease-table scan) a stream or table that does not exist.
 */
export function isAccessError(error: unknown, missingResourceIsFatal: boolean): boolean {
  const code = awsCodeOf(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return ACCESS_CODES.has(code) || status === 403 || (missingResourceIsFatal && code === 'ResourceNotFoundException');
}
