// Folders of migration scripts for the tests, and the journal as a test reads it (straight from the
// table, with the test's own SQL, not the runner's reader).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** A temporary folder holding `scripts` (file name → SQL); more can be written later. */
export function scriptFolder(scripts: Readonly<Record<string, string>>): { directory: string; write(files: Readonly<Record<string, string>>): void; remove(): void } {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-migrations-'));
  const write = (files: Readonly<Record<string, string>>) => {
    for (const [name, sql] of Object.entries(files)) writeFileSync(join(directory, name), sql);
  };
  write(scripts);
  return { directory, write, remove: () => rmSync(directory, { recursive: true, force: true }) };
}

export interface JournalRow {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
  readonly applied_at: Date;
  readonly duration_ms: number;
  readonly applied_by: string;
  readonly baseline: boolean;
}

/** Runs one query on a fresh connection. */
export async function query<Row extends Record<string, unknown>>(url: string, text: string, values?: unknown[]): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** The journal's rows by version; [] when there is no journal table. */
export async function journalRows(url: string): Promise<JournalRow[]> {
  const [{ present }] = await query<{ present: boolean }>(url, "SELECT to_regclass('public.sluice_migration_journal') IS NOT NULL AS present");
  if (!present) return [];
  return query<JournalRow & Record<string, unknown>>(url, 'SELECT * FROM public.sluice_migration_journal ORDER BY version');
}

/** The tables of the public schema, by name. */
export async function publicTables(url: string): Promise<string[]> {
  const rows = await query<{ tablename: string }>(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
  return rows.map((row) => row.tablename);
}
