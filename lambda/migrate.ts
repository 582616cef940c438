// The migration custom resource's onEvent handler (CDK custom-resources Provider framework): on
// Create and Update it applies every pending script of MIGRATIONS_DIR to the stage's database, under
// the migration lock, and answers Data.Version = the highest applied migration; on Delete it does
// nothing (the database and its schema outlive the resource). A failure throws, with the runner's
// message, so the deployment fails and CloudFormation rolls back — code never rolls out over a
// database without its schema.
//
// Environment:
//   DATABASE_SECRET_ARN  the RDS secret (JSON: host, port, dbname, username, password)
//   MIGRATIONS_DIR       the bundled folder of scripts (lib/runtime/app/migrations)
//   DATABASE_CA_FILE     optional: a PEM bundle trusted besides Node's CAs (default below)
// Resource properties: `Production: "true"` marks the database production, so that `sluice
// migrate rebuild` refuses it; anything else (the scripts' combined hash) only triggers an Update.
//
// TLS: the connection verifies the server's certificate and host name (rejectUnauthorized). The RDS
// certificate authorities are not in Node's list, and since Node.js 20 the Lambda runtime no longer
// loads its Amazon CA file by default; it ships it at /var/runtime/ca-cert.pem (the RDS CAs
// included). This handler trusts that file by default, read when it connects — no
// NODE_EXTRA_CA_CERTS to forget, and nothing loaded at every cold start of other functions.
import { existsSync } from 'node:fs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { connectDatabase, databaseConfigFromEnvironment } from '../lib/runtime/database.ts';
import { jsonLogger } from '../lib/runtime/json-logger.ts';
import { MigrationRunner } from '../lib/runtime/migrations/migration-runner.ts';
import { markProduction } from '../lib/runtime/migrations/production-marker.ts';

/** The Lambda runtime's bundle of Amazon CA certificates (RDS's among them). */
const LAMBDA_CA_BUNDLE = '/var/runtime/ca-cert.pem';
/** The physical ID never changes: a new one would make CloudFormation "delete" the old resource. */
const PHYSICAL_RESOURCE_ID = 'sluice-database-migrations';
/** Waiting for another runner's lock; what is left of the invocation bounds it further. */
const LOCK_TIMEOUT_MS = 5 * 60_000;
/** Kept for running the scripts after the lock is acquired. */
const RUN_RESERVE_MS = 2 * 60_000;

export interface MigrateResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly Version: string };
}

const logger = jsonLogger({ component: 'migrate' });

export const handler = async (event: CloudFormationCustomResourceEvent, context?: Pick<Context, 'getRemainingTimeInMillis' | 'awsRequestId'>): Promise<MigrateResponse> => {
  if (event.RequestType === 'Delete') {
    logger.log('info', 'migrate.delete_ignored', { physicalResourceId: event.PhysicalResourceId });
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  const directory = process.env.MIGRATIONS_DIR;
  if (!directory) throw new Error('MIGRATIONS_DIR is not set: it must name the bundled folder of migration scripts');
  if (!process.env.DATABASE_SECRET_ARN) throw new Error('DATABASE_SECRET_ARN is not set: it must name the database secret (RDS JSON: host, port, dbname, username, password)');
  const caFile = process.env.DATABASE_CA_FILE || (existsSync(LAMBDA_CA_BUNDLE) ? LAMBDA_CA_BUNDLE : undefined);
  const appliedBy = `${process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'migrate'} (${event.StackId.split('/')[1] ?? event.StackId}, request ${context?.awsRequestId ?? event.RequestId})`;
  const config = await databaseConfigFromEnvironment(
    { DATABASE_SECRET_ARN: process.env.DATABASE_SECRET_ARN, ...(caFile ? { DATABASE_CA_FILE: caFile } : {}) },
    { secretsManager: () => new SecretsManagerClient({}), applicationName: 'sluice migrate (custom resource)' },
  );
  const db = await connectDatabase(config!);
  try {
    if (event.ResourceProperties.Production === 'true') await markProduction(db, appliedBy);
    const remaining = context?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY;
    const runner = new MigrationRunner({
      db,
      directory,
      appliedBy,
      lockTimeoutMs: Math.max(1_000, Math.min(LOCK_TIMEOUT_MS, remaining - RUN_RESERVE_MS)),
      onEvent: (progress) => {
        if (progress.type === 'applied') logger.log('info', 'migrate.applied', { script: progress.script.fileName, durationMs: progress.durationMs });
      },
    });
    const result = await runner.up();
    logger.log('info', 'migrate.done', { requestType: event.RequestType, applied: result.applied.length, version: result.version });
    return { PhysicalResourceId: event.RequestType === 'Update' ? event.PhysicalResourceId : PHYSICAL_RESOURCE_ID, Data: { Version: String(result.version) } };
  } catch (error) {
    logger.log('error', 'migrate.failed', { error });
    throw error;
  } finally {
    await db.end().catch(() => undefined);
  }
};
