import { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type Clock, systemClock } from '../../clock.ts';
import { BadInputError } from '../errors.ts';
import type { RequiredMigrationSource } from '../schema-guard.ts';
import { readTarballEntry, TarballError } from '../tarball-entry.ts';
import { artifactKey } from './artifact-exists.ts';
import { callAws, type RetryPolicy } from './aws-call.ts';

export interface S3RequiredMigrationProps {
  readonly client: S3Client;
  /** The stack's artifact bucket (output ArtifactBucketName). */
  readonly bucket: string;
  /** @default systemClock */
  readonly clock?: Clock;
  readonly retry?: RetryPolicy;
}

/** The requiredMigration of an artifact in the bucket, read from the manifest.json inside `releases/<version>.tgz`. */
export class S3RequiredMigration implements RequiredMigrationSource {
  constructor(private readonly props: S3RequiredMigrationProps) {}

  async requiredMigration(version: string, signal?: AbortSignal): Promise<number> {
    const { client, bucket } = this.props;
    const key = artifactKey(version);
    const where = `s3://${bucket}/${key}`;
    const response = await callAws(
      {
        clock: this.props.clock ?? systemClock,
        operation: 'GetObject',
        subject: where,
        hint: 'check that the credentials allow s3:GetObject on releases/ of the artifact bucket',
        signal,
        retry: this.props.retry,
      },
      (abortSignal) => client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }),
    );
    const body = response.Body;
    if (!(body instanceof Readable)) throw new BadInputError(`nothing was changed: ${where} has no readable body`);
    const rebuild = `rebuild it with npm run package -- ${version} and upload it again`;
    let manifestBytes: Buffer | undefined;
    try {
      manifestBytes = await readTarballEntry(body, 'manifest.json');
    } catch (error) {
      if (!(error instanceof TarballError)) throw error;
      throw new BadInputError(`nothing was changed: ${where} is not a release artifact (${error.message}); ${rebuild}`);
    }
    if (manifestBytes === undefined) throw new BadInputError(`nothing was changed: ${where} has no manifest.json; ${rebuild}`);
    let manifest: unknown;
    try {
      manifest = JSON.parse(manifestBytes.toString('utf8'));
    } catch {
      throw new BadInputError(`nothing was changed: the manifest.json in ${where} is not JSON; ${rebuild}`);
    }
    const required = (manifest as { requiredMigration?: unknown } | null)?.requiredMigration;
    // Artifacts built before the manifest recorded it need no migration.
    if (required === undefined) return 0;
    if (typeof required !== 'number' || !Number.isSafeInteger(required) || required < 0) {
      throw new BadInputError(`nothing was changed: the manifest of ${where} has requiredMigration ${JSON.stringify(required)}, not a migration number; ${rebuild}`);
    }
    return required;
  }
}
