// The release's check of the database schema: code that needs migration N must not roll out onto a
// database that has applied fewer. It runs before anything is touched, like the artifact check; the
// release engine never sees it. Two ports, so that the AWS adapters (SSM, S3) and a test's
// simulation answer the same questions.
import { BadInputError } from './errors.ts';

/** What the stage's database has applied, as the stack recorded it after its migrations ran. */
export interface SchemaVersionSource {
  /** Where the number is read, for messages (e.g. `/sluice/prod/schema-version`). */
  readonly location: string;
  /** The highest applied migration, or undefined when the stage has no database. */
  appliedMigration(signal?: AbortSignal): Promise<number | undefined>;
}

/** What a release artifact needs. */
export interface RequiredMigrationSource {
  /** The manifest's requiredMigration of `version`'s artifact (0 for an artifact built before it was recorded). */
  requiredMigration(version: string, signal?: AbortSignal): Promise<number>;
}

/** The database is behind what the version needs: rolling it out would run code over an unmigrated schema. */
export class DatabaseBehindError extends BadInputError {
  constructor(
    readonly version: string,
    readonly requiredMigration: number,
    readonly appliedMigration: number,
    readonly stage: string,
    location: string,
  ) {
    super(
      `nothing was changed: ${version} needs database migration ${requiredMigration}, but the ${stage} database has applied only up to ${appliedMigration} (${location}). `
        + `Deploy the stack first so that the migrations run (npx cdk deploy -c stage=${stage}), then release ${version} again.`,
    );
    this.name = 'DatabaseBehindError';
  }
}

export interface SchemaCheck {
  readonly version: string;
  readonly stage: string;
  readonly schema: SchemaVersionSource;
  readonly artifact: RequiredMigrationSource;
  readonly signal?: AbortSignal;
}

/**
 * Throws DatabaseBehindError when the stage's database is behind the version's requiredMigration.
 * A stage without a database has nothing to check, and its artifact is not read.
 */
export async function assertSchemaMigrated(check: SchemaCheck): Promise<void> {
  const applied = await check.schema.appliedMigration(check.signal);
  if (applied === undefined) return;
  const required = await check.artifact.requiredMigration(check.version, check.signal);
  if (required > applied) throw new DatabaseBehindError(check.version, required, applied, check.stage, check.schema.location);
}
