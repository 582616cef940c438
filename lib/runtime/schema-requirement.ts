// What a release needs of its database: the release manifest's `requiredMigration` (the highest
// script number in lib/runtime/app/migrations when the artifact was built), checked against the
// journal before the app or the worker starts. Code never runs over a database that lacks its
// schema: it exits non-zero, systemd shows why, the install's health check fails and the rolling
// release puts the previous version back.
import { readFile } from 'node:fs/promises';
import { appliedSchemaVersion, formatMigrationNumber, type Queryable } from './schema-journal.ts';

/** The database's journal is behind what the installed release needs. */
export class SchemaBehindError extends Error {
  constructor(
    readonly requiredMigration: number,
    readonly appliedMigration: number | undefined,
  ) {
    const at = appliedMigration === undefined ? 'has no migration journal (no migration ever ran on it)' : `is at migration ${formatMigrationNumber(appliedMigration)}`;
    super(
      `the database ${at}, but this release needs migration ${formatMigrationNumber(requiredMigration)}: `
        + 'apply the migrations first (`cdk deploy` runs them; locally `npx sluice migrate up --database-url <url>`), then start it again',
    );
    this.name = 'SchemaBehindError';
  }
}

/**
 * The `requiredMigration` of the release manifest at `manifestPath` (the running release's
 * `manifest.json`); undefined without a manifest (development: `tsx bin/server.ts` from a checkout)
 * or for an artifact built before the field existed. A manifest that is there but unreadable, or
 * whose field is not a whole number, is an error: the release is broken, not in development.
 */
export async function readRequiredMigration(manifestPath: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw new Error(`${manifestPath} is not valid JSON (${(error as Error).message}): the release artifact is damaged; package and release it again`);
  }
  const required = (manifest as { requiredMigration?: unknown } | null)?.requiredMigration;
  if (required === undefined) return undefined;
  if (typeof required !== 'number' || !Number.isInteger(required) || required < 0) {
    throw new Error(`${manifestPath}: requiredMigration must be a whole number of 0 or more (given ${JSON.stringify(required)}): the release artifact is damaged; package and release it again`);
  }
  return required;
}

/** Throws SchemaBehindError when the journal's highest migration is below `requiredMigration`. */
export async function assertSchemaCurrent(db: Queryable, requiredMigration: number): Promise<number> {
  const applied = await appliedSchemaVersion(db);
  if (applied === undefined || applied < requiredMigration) throw new SchemaBehindError(requiredMigration, applied);
  return applied;
}
