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

/** Where the artifact's checksum lives: `sluice-install` refuses an artifact that does not match it. */
export function checksumKey(version: string): string {
  return `${artifactKey(version)}.sha256`;
}

/**
 * The keys of `releases/<version>.tgz` and `releases/<version>.tgz.sha256` that are not in the
 * bucket (none when the release can be installed), checked before any target is touched: every
 * instance would refuse to install without both.
 */
export async function missingArtifactKeys(s3: S3Client, bucket: string, version: string, options: ArtifactExistsOptions = {}): Promise<string[]> {
  assertReleaseVersion(version);
  const missing: string[] = [];
  for (const key of [artifactKey(version), checksumKey(version)]) {
    if (!(await objectExists(s3, bucket, key, options))) missing.push(key);
  }
  return missing;
}

async function objectExists(s3: S3Client, bucket: string, key: string, options: ArtifactExistsOptions): Promise<boolean> {
  const notFound = (error: unknown) =>
    error instanceof Error && (error.name === 'NotFound' || error.name === 'NoSuchKey' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404);
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
