// The journal table: one row per script applied (or marked applied by `baseline`), written in the
// same transaction as a transactional script, so that a script and its row commit or roll back
// together. Reading it never creates it: `status` and `plan` change nothing.
import { MIGRATION_JOURNAL_TABLE, type Queryable } from '../schema-journal.ts';

const TABLE = `public.${MIGRATION_JOURNAL_TABLE}`;

export interface JournalEntry {
  readonly version: number;
  /** The script's file name, e.g. `0001_processed_jobs.sql`. */
  readonly name: string;
  /** sha256 (hex) of the script as it was applied. */
  readonly checksum: string;
  readonly appliedAt: Date;
  /** How long the script ran; 0 for a script marked applied by `baseline`. */
  readonly durationMs: number;
  /** Who ran it: `user@host` for the CLI, the function and request for the custom resource. */
  readonly appliedBy: string;
  /** True when `baseline` recorded it without running it. */
  readonly baseline: boolean;
}

export const CREATE_JOURNAL_SQL = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  version integer PRIMARY KEY CHECK (version >= 0),
  name text NOT NULL,
  checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
  applied_at timestamptz NOT NULL,
  duration_ms integer NOT NULL CHECK (duration_ms >= 0),
  applied_by text NOT NULL,
  baseline boolean NOT NULL DEFAULT false
)`;

/** Every entry by version; empty when the database has no journal yet. */
export async function readJournal(db: Queryable): Promise<JournalEntry[]> {
  const exists = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [TABLE]);
  if (!exists.rows[0]?.present) return [];
  const { rows } = await db.query<{ version: number; name: string; checksum: string; applied_at: Date; duration_ms: number; applied_by: string; baseline: boolean }>(
    `SELECT version, name, checksum, applied_at, duration_ms, applied_by, baseline FROM ${TABLE} ORDER BY version`,
  );
  return rows.map((row) => ({ version: row.version, name: row.name, checksum: row.checksum, appliedAt: row.applied_at, durationMs: row.duration_ms, appliedBy: row.applied_by, baseline: row.baseline }));
}

export async function createJournal(db: Queryable): Promise<void> {
  await db.query(CREATE_JOURNAL_SQL);
}

/** Records one script; applied_at is the moment it finished (clock_timestamp, not the transaction's start). */
export async function recordInJournal(db: Queryable, entry: Omit<JournalEntry, 'appliedAt'>): Promise<void> {
  await db.query(`INSERT INTO ${TABLE} (version, name, checksum, applied_at, duration_ms, applied_by, baseline) VALUES ($1, $2, $3, clock_timestamp(), $4, $5, $6)`, [
    entry.version,
    entry.name,
    entry.checksum,
    entry.durationMs,
    entry.appliedBy,
    entry.baseline,
  ]);
}
