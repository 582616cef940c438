import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { GetObjectCommandInput, GetObjectCommandOutput, HeadObjectCommandInput, HeadObjectCommandOutput } from '@aws-sdk/client-s3';
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

  /** The manifest.json inside a version's artifact. @default `{ version, requiredMigration: 0 }` */
  readonly manifests: Map<string, object>;
  private readonly tarballs = new Map<string, Buffer>();

  constructor(readonly name: string, missingVersions: readonly string[] = [], missingChecksums: readonly string[] = [], manifests: Readonly<Record<string, object>> = {}) {
    this.missing = new Set(missingVersions);
    this.missingChecksums = new Set(missingChecksums);
    this.manifests = new Map(Object.entries(manifests));
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

  /** The artifact itself: a gzipped tar made by GNU tar, as `npm run package` makes it (manifest.json first, then the bundles). */
  get(input: GetObjectCommandInput): GetObjectCommandOutput {
    const [, version] = /^releases\/(.+)\.tgz$/.exec(input.Key ?? '') ?? [];
    // S3 answers a GET of a missing key with NoSuchKey (with s3:ListBucket; AccessDenied without).
    if (input.Bucket !== this.name || version === undefined || this.missing.has(version)) throw awsError('s3', 'NoSuchKey', 'The specified key does not exist.', 404);
    const tarball = this.tarball(version);
    return { $metadata: { httpStatusCode: 200 }, ContentLength: tarball.length, ContentType: 'application/gzip', ETag: `"${version}"`, Body: Readable.from([tarball]) as GetObjectCommandOutput['Body'] };
  }

  private tarball(version: string): Buffer {
    const manifest = this.manifests.get(version) ?? { version, requiredMigration: 0 };
    const key = `${version} ${JSON.stringify(manifest)}`;
    const cached = this.tarballs.get(key);
    if (cached) return cached;
    const staging = mkdtempSync(join(tmpdir(), 'sluice-simulated-artifact-'));
    try {
      writeFileSync(join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      writeFileSync(join(staging, 'server.mjs'), `// ${version}\n${'console.log("bundle");\n'.repeat(2000)}`);
      const tarball = execFileSync('tar', ['-czf', '-', '--owner=0', '--group=0', '--numeric-owner', '-C', staging, 'manifest.json', 'server.mjs']);
      this.tarballs.set(key, tarball);
      return tarball;
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
}
