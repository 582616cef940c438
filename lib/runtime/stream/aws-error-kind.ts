// What an error from a Kinesis, DynamoDB or SQS call means for the consumer.

/** Codes about who is calling (credentials, signature, permissions, KMS key access): retrying with the same credentials cannot help. */
const ACCESS_CODE = /^(AccessDenied|KMSAccessDenied|UnrecognizedClient|InvalidClientTokenId|ExpiredToken|InvalidSignature|IncompleteSignature|MissingAuthenticationToken)(Exception)?$|^CredentialsProviderError$/;

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
  return ACCESS_CODE.test(code) || status === 403 || (missingResourceIsFatal && code === 'ResourceNotFoundException');
}
