// The migration journal as the rest of the runtime sees it: its table name, and the highest
// migration a database has applied. The migration runner (lib/runtime/migrations) writes the journal;
// the app and the worker only read it, to refuse to start on a database behind their release.

/** The journal table, in the database's `public` schema: one row per applied (or baselined) script. */
export const MIGRATION_JOURNAL_TABLE = 'sluice_migration_journal';

/** What reading the journal needs: a pg Client, PoolClient or Pool. */
export interface Queryable {
  query<Row extends Record<string, unknown> = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
}

/**
 * The highest migration number the database's journal records; undefined when the database has no
 * journal yet (no migration ever ran on it). Reading it takes no lock and changes nothing.
 */
export async function appliedSchemaVersion(db: Queryable): Promise<number | undefined> {
  const exists = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [`public.${MIGRATION_JOURNAL_TABLE}`]);
  if (!exists.rows[0]?.present) return undefined;
  const { rows } = await db.query<{ version: number | null }>(`SELECT max(version) AS version FROM public.${MIGRATION_JOURNAL_TABLE}`);
  return rows[0]?.version ?? undefined;
}

/**
 * A migration script's file name: four digits, an underscore, then lower-case words joined by
 * underscores (`0001_processed_jobs.sql`); group 1 is the number. In the kernel so that whatever
 * needs the highest script number (the release manifest's requiredMigration) reads it as the runner does.
 */
export const MIGRATION_FILE_PATTERN = /^(\d{4})_([a-z0-9]+(?:_[a-z0-9]+)*)\.sql$/;

/** 3 → "0003", the way script files are numbered. */
export function formatMigrationNumber(version: number): string {
  return String(version).padStart(4, '0');
}
