import type { HeadObjectCommandInput, HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { awsError } from './aws-errors.ts';

/**
 * The artifact bucket: every version has `releases/<version>.tgz` and its checksum
 * `releases/<version>.tgz.sha256`, except the versions whose artifact or checksum is missing.
 */
export class SimulatedArtifactBucket {
  /** Versions with neither object (never uploaded, or removed). */
  readonly missing: Set<string>;
  /** Versions whose tarball was uploaded without its checksum. */
  readonly missingChecksums: Set<string>;

  constructor(readonly name: string, missingVersions: readonly string[] = [], missingChecksums: readonly string[] = []) {
    this.missing = new Set(missingVersions);
    this.missingChecksums = new Set(missingChecksums);
  }

  /** Whether sluice-install can download the version: the artifact and its checksum. */
  has(version: string): boolean {
    return !this.missing.has(version) && !this.missingChecksums.has(version);
  }

  head(input: HeadObjectCommandInput): HeadObjectCommandOutput {
    const [, version, checksum] = /^releases\/(.+)\.tgz(\.sha256)?$/.exec(input.Key ?? '') ?? [];
    const exists = version !== undefined && !this.missing.has(version) && !(checksum && this.missingChecksums.has(version));
    // HEAD has no body, so S3 answers a missing key (or bucket) with a bare 404 the SDK names NotFound.
    if (input.Bucket !== this.name || !exists) throw awsError('s3', 'NotFound', 'Not Found', 404);
    return checksum
      ? { $metadata: { httpStatusCode: 200 }, ContentLength: 64 + 2 + `${version}.tgz\n`.length, ContentType: 'text/plain', ETag: `"${version}-sha256"` }
      : { $metadata: { httpStatusCode: 200 }, ContentLength: 1_048_576, ContentType: 'application/gzip', ETag: `"${version}"` };
  }
}
