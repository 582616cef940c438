// A production database says so itself: a row in public.sluice_environment, written by the
// migration custom resource on a stage that protects its data. `rebuild` (which drops everything)
// refuses such a database whatever connection string it was given, so a tunnel to production
// mistaken for a local database loses nothing.
import type { Queryable } from '../schema-journal.ts';

const TABLE = 'public.sluice_environment';

/** Marks the database production (idempotent); `markedBy` says who did (the stack, the function). */
export async function markProduction(db: Queryable, markedBy: string): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (production boolean PRIMARY KEY, marked_at timestamptz NOT NULL DEFAULT now(), marked_by text NOT NULL)`);
  await db.query(`INSERT INTO ${TABLE} (production, marked_by) VALUES (true, $1) ON CONFLICT (production) DO NOTHING`, [markedBy]);
}

export async function isMarkedProduction(db: Queryable): Promise<boolean> {
  const exists = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [TABLE]);
  if (!exists.rows[0]?.present) return false;
  const { rows } = await db.query<{ production: boolean }>(`SELECT production FROM ${TABLE} WHERE production`);
  return rows.length > 0;
}
