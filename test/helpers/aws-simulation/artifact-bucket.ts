import type { HeadObjectCommandInput, HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { awsError } from './aws-errors.ts';

/** The artifact bucket: `releases/<version>.tgz` exists for every version except the missing ones. */
export class SimulatedArtifactBucket {
  readonly missing: Set<string>;

  constructor(readonly name: string, missingVersions: readonly string[] = []) {
    this.missing = new Set(missingVersions);
  }

  has(version: string): boolean {
    return !this.missing.has(version);
  }

  head(input: HeadObjectCommandInput): HeadObjectCommandOutput {
    const version = /^releases\/(.+)\.tgz$/.exec(input.Key ?? '')?.[1];
    // HEAD has no body, so S3 answers a missing key (or bucket) with a bare 404 the SDK names NotFound.
    if (input.Bucket !== this.name || version === undefined || !this.has(version)) throw awsError('s3', 'NotFound', 'Not Found', 404);
    return { $metadata: { httpStatusCode: 200 }, ContentLength: 1_048_576, ContentType: 'application/gzip', ETag: `"${version}"` };
  }
}
