// The migration runner: status, plan (dry run), up, baseline and rebuild over one database session.
// `up` takes the migration lock, reads the journal under it, refuses (running nothing) when the
// folder or the journal is wrong, then applies each pending script in order — in a transaction of
// its own together with its journal row, unless the script opts out — and stops at the first failure.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { formatMigrationNumber } from '../schema-journal.ts';
import { MigrationInputError, MigrationRefusedError, MigrationScriptFailedError, NonTransactionalScriptFailedError, RebuildRefusedError } from './errors.ts';
import { checkMigrations, type MigrationCheck } from './migration-check.ts';
import { type MigrationFolder, type MigrationScript, readMigrationFolder } from './migration-folder.ts';
import { createJournal, readJournal, recordInJournal } from './migration-journal.ts';
import { acquireMigrationLock, releaseMigrationLock } from './migration-lock.ts';
import { isMarkedProduction } from './production-marker.ts';
import { splitSqlStatements } from './sql-statements.ts';

/** The default wait for another runner's lock. */
const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

export type MigrationEvent =
  | { readonly type: 'waiting-for-lock' }
  | { readonly type: 'applying'; readonly script: MigrationScript }
  | { readonly type: 'applied'; readonly script: MigrationScript; readonly durationMs: number };

export interface MigrationRunnerOptions {
  /**
   * One connected session, used for everything: the advisory lock belongs to the session, so the
   * runner must not be given a pool.
   */
  readonly db: pg.ClientBase;
  /** The folder of scripts (for the app: lib/runtime/app/migrations). */
  readonly directory: string;
  /** Recorded in the journal's applied_by: who ran the scripts. */
  readonly appliedBy: string;
  /** @default 60 seconds */
  readonly lockTimeoutMs?: number;
  /** Progress, for the CLI's lines and the custom resource's log. @default - none */
  readonly onEvent?: (event: MigrationEvent) => void;
}

export interface AppliedScript {
  readonly script: MigrationScript;
  readonly durationMs: number;
}

export interface UpResult {
  readonly applied: readonly AppliedScript[];
  /** The highest applied migration after the run. */
  readonly version: number;
}

export interface BaselineResult {
  /** Scripts recorded as applied without running them. */
  readonly marked: readonly MigrationScript[];
  readonly version: number;
}

export interface MigrationStatus extends MigrationCheck {
  readonly folder: MigrationFolder;
}

export class MigrationRunner {
  private readonly db: pg.ClientBase;
  private readonly lockTimeoutMs: number;

  constructor(private readonly options: MigrationRunnerOptions) {
    this.db = options.db;
    this.lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  }

  /** Every script with its journal entry, and any problem; reads only (no lock, no journal created). */
  async status(): Promise<MigrationStatus> {
    const folder = await readMigrationFolder(this.options.directory);
    return { folder, ...checkMigrations(folder, await readJournal(this.db)) };
  }

  /** What `up` would apply now; changes nothing. Throws MigrationRefusedError as `up` would. */
  async plan(): Promise<MigrationCheck> {
    const status = await this.status();
    if (status.problems.length > 0) throw new MigrationRefusedError(status.problems);
    return status;
  }

  /** Applies every pending script in order, under the lock. */
  async up(): Promise<UpResult> {
    const folder = await this.readWellFormedFolder();
    return this.underLock(() => this.applyPending(folder));
  }

  /**
   * Records every script up to `version` as applied without running it: for a database that already
   * has that schema (made before migrations existed, or by hand after a failed non-transactional script).
   */
  async baseline(version: number): Promise<BaselineResult> {
    const folder = await this.readWellFormedFolder();
    if (!folder.scripts.some((script) => script.version === version)) {
      const highest = folder.scripts.at(-1)!;
      throw new MigrationInputError(`baseline ${version}: ${folder.directory} has no script ${formatMigrationNumber(version)} (its highest is ${highest.fileName}); give the number of the last script the database already has`);
    }
    return this.underLock(async () => {
      // A script below `version` missing from the journal is what baseline is for, not a refusal.
      const check = checkMigrations(folder, await readJournal(this.db), folder.directory, version);
      if (check.problems.length > 0) throw new MigrationRefusedError(check.problems);
      const marked = check.pending.filter((script) => script.version <= version);
      await this.db.query('BEGIN');
      try {
        await createJournal(this.db);
        for (const script of marked) {
          await recordInJournal(this.db, { version: script.version, name: script.fileName, checksum: script.checksum, durationMs: 0, appliedBy: this.options.appliedBy, baseline: true });
        }
        await this.db.query('COMMIT');
      } catch (error) {
        await this.db.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      return { marked, version: Math.max(version, check.appliedVersion ?? -1) };
    });
  }

  /**
   * Development only: drops every schema of the database (its data with it) and applies every
   * script from 0000. Refused on a database marked production, and without `confirmed`.
   */
  async rebuild(options: { readonly confirmed: boolean }): Promise<UpResult> {
    const folder = await this.readWellFormedFolder();
    if (await isMarkedProduction(this.db)) {
      throw new RebuildRefusedError('rebuild refused: this database is marked production (table public.sluice_environment), and rebuild would drop all of its data; it is for development databases only. Nothing was dropped');
    }
    if (!options.confirmed) throw new RebuildRefusedError('rebuild drops every schema of the database and all of its data, then applies every script from 0000: pass --yes to confirm. Nothing was dropped');
    return this.underLock(async () => {
      await this.db.query('BEGIN');
      try {
        const { rows } = await this.db.query<{ name: string }>("SELECT nspname AS name FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'");
        for (const { name } of rows) await this.db.query(`DROP SCHEMA ${quoteIdentifier(name)} CASCADE`);
        await this.db.query('CREATE SCHEMA public');
        await this.db.query('GRANT USAGE ON SCHEMA public TO PUBLIC');
        await this.db.query('COMMIT');
      } catch (error) {
        await this.db.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      return this.applyPending(folder);
    });
  }

  private async readWellFormedFolder(): Promise<MigrationFolder> {
    const folder = await readMigrationFolder(this.options.directory);
    // A folder that is wrong on its own is refused before the database is touched at all.
    if (folder.problems.length > 0) throw new MigrationRefusedError(folder.problems);
    return folder;
  }

  private async underLock<T>(work: () => Promise<T>): Promise<T> {
    this.options.onEvent?.({ type: 'waiting-for-lock' });
    await acquireMigrationLock(this.db, { timeoutMs: this.lockTimeoutMs });
    try {
      return await work();
    } finally {
      // A broken connection released the lock already.
      await releaseMigrationLock(this.db).catch(() => undefined);
    }
  }

  /** Under the lock: the journal read now is the one that counts (another runner may just have finished). */
  private async applyPending(folder: MigrationFolder): Promise<UpResult> {
    const check = checkMigrations(folder, await readJournal(this.db));
    if (check.problems.length > 0) throw new MigrationRefusedError(check.problems);
    const applied: AppliedScript[] = [];
    for (const script of check.pending) {
      this.options.onEvent?.({ type: 'applying', script });
      const durationMs = script.transactional ? await this.applyInTransaction(script) : await this.applyStatementByStatement(script);
      this.options.onEvent?.({ type: 'applied', script, durationMs });
      applied.push({ script, durationMs });
    }
    return { applied, version: folder.scripts.at(-1)!.version };
  }

  private async applyInTransaction(script: MigrationScript): Promise<number> {
    await this.db.query('BEGIN');
    try {
      // In the script's transaction: a first script that fails leaves no journal table behind either.
      await createJournal(this.db);
      const started = performance.now();
      // No parameters: pg sends the simple query protocol, which runs the script's statements in order.
      await this.db.query(script.sql);
      const durationMs = Math.round(performance.now() - started);
      await recordInJournal(this.db, { version: script.version, name: script.fileName, checksum: script.checksum, durationMs, appliedBy: this.options.appliedBy, baseline: false });
      await this.db.query('COMMIT');
      return durationMs;
    } catch (error) {
      await this.db.query('ROLLBACK').catch(() => undefined);
      throw new MigrationScriptFailedError(script.fileName, describeSqlError(error, script.sql, 1), { cause: error });
    }
  }

  private async applyStatementByStatement(script: MigrationScript): Promise<number> {
    const statements = splitSqlStatements(script.sql);
    await createJournal(this.db);
    const started = performance.now();
    for (const [index, statement] of statements.entries()) {
      try {
        await this.db.query(statement.text);
      } catch (error) {
        throw new NonTransactionalScriptFailedError(script.fileName, script.version, index + 1, statements.length, describeSqlError(error, statement.text, statement.line), { cause: error });
      }
    }
    const durationMs = Math.round(performance.now() - started);
    await recordInJournal(this.db, { version: script.version, name: script.fileName, checksum: script.checksum, durationMs, appliedBy: this.options.appliedBy, baseline: false });
    return durationMs;
  }
}

/** PostgreSQL's message with the script line it points at (its `position` counts characters of the query sent). */
function describeSqlError(error: unknown, sent: string, firstLine: number): string {
  const { message, position, code } = error as { message?: string; position?: string; code?: string };
  let where = '';
  if (position !== undefined && Number(position) > 0) {
    const line = firstLine + (sent.slice(0, Number(position) - 1).match(/\n/g)?.length ?? 0);
    where = ` at line ${line}`;
  } else if (firstLine > 1) {
    where = ` in the statement at line ${firstLine}`;
  }
  return `${message ?? String(error)}${where}${code ? ` (SQLSTATE ${code})` : ''}`;
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
