// A folder of migration scripts: `0000_baseline.sql`, then `0001_<name>.sql`, `0002_<name>.sql`, …
// numbered without gaps. Reading it checks the names and the numbering and reports every problem at
// once; each script carries its sha256 checksum (over its text with CRLF line endings read as LF,
// so a Windows checkout is the same script) and whether it runs in a transaction.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { formatMigrationNumber, MIGRATION_FILE_PATTERN } from '../schema-journal.ts';
import { MigrationInputError } from './errors.ts';
import { splitSqlStatements } from './sql-statements.ts';

/**
 * A line holding only this comment opts a script out of its transaction, for statements PostgreSQL
 * refuses inside one (CREATE INDEX CONCURRENTLY, ALTER TYPE … ADD VALUE before 12, VACUUM).
 */
export const NO_TRANSACTION_MARKER = /^--\s*sluice:no-transaction\s*$/m;

export interface MigrationScript {
  readonly version: number;
  /** The file name, e.g. `0001_processed_jobs.sql`: what the journal records and every message names. */
  readonly fileName: string;
  readonly path: string;
  readonly sql: string;
  /** sha256 (hex) of the text, line endings normalised to LF. */
  readonly checksum: string;
  /** False when the script carries `-- sluice:no-transaction`. */
  readonly transactional: boolean;
}

export interface MigrationFolder {
  readonly directory: string;
  /** Every well-named script, by number (duplicates included, so that the problem names both). */
  readonly scripts: readonly MigrationScript[];
  /** What stops the folder from being applied; empty when it is well-formed. */
  readonly problems: readonly string[];
}

/** sha256 of a script's text as the journal records it. */
export function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n'), 'utf8').digest('hex');
}

/**
 * Reads every script in `directory`. Files that are not `.sql` and do not start with a digit (a
 * README) are left alone; anything else that does not follow the convention is a problem.
 */
export async function readMigrationFolder(directory: string): Promise<MigrationFolder> {
  let entries: string[];
  try {
    if (!(await stat(directory)).isDirectory()) throw new MigrationInputError(`${directory} is not a folder: --dir must name the folder of migration scripts`);
    entries = (await readdir(directory)).sort();
  } catch (error) {
    if (error instanceof MigrationInputError) throw error;
    throw new MigrationInputError(`the migrations folder ${directory} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): --dir must name the folder of migration scripts`);
  }
  const problems: string[] = [];
  const scripts: MigrationScript[] = [];
  for (const fileName of entries) {
    if (fileName.startsWith('.')) continue;
    const match = MIGRATION_FILE_PATTERN.exec(fileName);
    if (!match) {
      if (/\.sql$/i.test(fileName) || /^\d/.test(fileName)) {
        problems.push(`${fileName} does not follow the naming convention NNNN_<name>.sql (four digits, an underscore, lower-case letters, digits and underscores, e.g. 0002_add_orders.sql): rename it`);
      }
      continue;
    }
    const path = join(directory, fileName);
    const sql = await readFile(path, 'utf8');
    const transactional = !NO_TRANSACTION_MARKER.test(sql);
    if (transactional && controlsItsTransaction(sql)) {
      problems.push(`${fileName} has its own BEGIN/COMMIT/ROLLBACK: each script already runs in a transaction of its own, which a COMMIT would end half-way; remove them, or mark the script -- sluice:no-transaction`);
    }
    scripts.push({ version: Number(match[1]), fileName, path, sql, checksum: migrationChecksum(sql), transactional });
  }
  scripts.sort((a, b) => a.version - b.version || a.fileName.localeCompare(b.fileName));
  problems.push(...numberingProblems(scripts, directory));
  return { directory, scripts, problems };
}

/** A top-level transaction statement (not a BEGIN inside a function body, which is quoted). */
function controlsItsTransaction(sql: string): boolean {
  return splitSqlStatements(sql).some((statement) => /^(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION|END)\b/i.test(withoutLeadingComments(statement.text)));
}

function withoutLeadingComments(text: string): string {
  return text.replace(/^(\s*(--[^\n]*\n|\/\*[\s\S]*?\*\/))*\s*/, '');
}

/** Duplicates and gaps, each naming the files and the number to use instead. */
function numberingProblems(scripts: readonly MigrationScript[], directory: string): string[] {
  if (scripts.length === 0) return [`${directory} holds no migration script: the first one is 0000_baseline.sql`];
  const problems: string[] = [];
  const byVersion = new Map<number, MigrationScript[]>();
  for (const script of scripts) byVersion.set(script.version, [...(byVersion.get(script.version) ?? []), script]);
  const highest = scripts[scripts.length - 1]!.version;
  for (const [version, same] of byVersion) {
    if (same.length > 1) {
      problems.push(`${same.map((script) => script.fileName).join(' and ')} share the number ${formatMigrationNumber(version)}: keep the one already committed and renumber the newer one to ${formatMigrationNumber(highest + 1)}`);
    }
  }
  for (let version = 0; version < highest; version += 1) {
    if (byVersion.has(version)) continue;
    const next = scripts.find((script) => script.version > version)!;
    problems.push(
      version === 0
        ? `0000 is missing: the first script must be 0000_baseline.sql (the schema as it was before the first migration, or empty)`
        : `${formatMigrationNumber(version)} is missing (numbers must follow on without gaps): renumber ${next.fileName} to ${formatMigrationNumber(version)}, unless a database has applied it already`,
    );
  }
  return problems;
}
