import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type Clock, systemClock } from '../../clock.ts';
import { callAws, type RetryPolicy } from './aws-call.ts';
import { assertReleaseVersion } from '../release-version.ts';

export interface ArtifactExistsOptions {
  /** Waits between throttled retries. @default systemClock */
  readonly clock?: Clock;
  readonly retry?: RetryPolicy;
  readonly signal?: AbortSignal;
}

/** Where a release's artifact lives in the artifact bucket (what `sluice-install` downloads). */
export function artifactKey(version: string): string {
  return `releases/${version}.tgz`;
}

/** Whether `releases/<version>.tgz` is in the bucket, checked before any target is touched. */
export async function artifactExists(s3: S3Client, bucket: string, version: string, options: ArtifactExistsOptions = {}): Promise<boolean> {
  assertReleaseVersion(version);
  const notFound = (error: unknown) =>
    error instanceof Error && (error.name === 'NotFound' || error.name === 'NoSuchKey' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404);
  const key = artifactKey(version);
  try {
    await callAws(
      {
        clock: options.clock ?? systemClock,
        operation: 'HeadObject',
        subject: `s3://${bucket}/${key}`,
        // Without s3:ListBucket, S3 answers 403 rather than 404 for a key that does not exist.
        hint: 'check the bucket name (stack output ArtifactBucketName) and that the credentials allow s3:GetObject and s3:ListBucket on it',
        signal: options.signal,
        retry: options.retry,
        expected: notFound,
      },
      (abortSignal) => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }),
    );
    return true;
  } catch (error) {
    if (notFound(error)) return false;
    throw error;
  }
}
