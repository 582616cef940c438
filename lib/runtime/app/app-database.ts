// The app's database as the web app and the worker start with it: where it is (DATABASE_URL, or
// DATABASE_SECRET_ARN on an instance; neither: no database), and whether its schema is what the
// installed release needs — the manifest's requiredMigration against the journal. A database that
// is behind stops the start (SchemaBehindError), so code never runs over a schema it does not know.
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { connectDatabase, databaseConfigFromEnvironment, type DatabaseEnvironment } from '../database.ts';
import type { Logger } from '../json-logger.ts';
import { assertSchemaCurrent, readRequiredMigration } from '../schema-requirement.ts';

export interface AppDatabase {
  /** For a pg Pool; a secret's password is read again for new connections (rotation). */
  readonly config: pg.ClientConfig;
  /** The manifest's requiredMigration; undefined in development (no manifest.json). */
  readonly requiredMigration?: number;
  /** The journal's highest migration, when it was checked. */
  readonly appliedMigration?: number;
}

export interface PrepareAppDatabaseOptions {
  /** The running release's manifest.json (the service's working directory on an instance). */
  readonly manifestPath: string;
  /** Shown in pg_stat_activity, e.g. `sluice worker`. */
  readonly applicationName: string;
}

/**
 * Undefined without a database. Throws SchemaBehindError when the journal is behind the release,
 * and DatabaseConfigurationError / DatabaseConnectionError with the fix for a database it cannot use.
 */
export async function prepareAppDatabase(env: DatabaseEnvironment, options: PrepareAppDatabaseOptions): Promise<AppDatabase | undefined> {
  const config = await databaseConfigFromEnvironment(env, { secretsManager: () => new SecretsManagerClient({}), applicationName: options.applicationName });
  if (config === undefined) return undefined;
  const requiredMigration = await readRequiredMigration(options.manifestPath);
  if (requiredMigration === undefined) return { config };
  const db = await connectDatabase(config);
  try {
    return { config, requiredMigration, appliedMigration: await assertSchemaCurrent(db, requiredMigration) };
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** A pool whose idle-connection failures are logged rather than crashing the process. */
export function createAppPool(database: AppDatabase, logger: Logger): pg.Pool {
  const pool = new pg.Pool({ ...database.config, max: 10 });
  pool.on('error', (error) => logger.log('warn', 'database.idle_connection_failed', { error }));
  return pool;
}
