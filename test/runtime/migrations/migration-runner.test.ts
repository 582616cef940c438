// The migration runner against a real PostgreSQL server: scripts applied once, in order, each in
// its own transaction with its journal row; every refusal runs nothing; a failing script leaves no
// trace; a non-transactional failure says what was left behind; baseline, plan, the lock, rebuild.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrationRunner, type MigrationRunnerOptions } from '../../../lib/runtime/migrations/migration-runner.ts';
import { markProduction } from '../../../lib/runtime/migrations/production-marker.ts';
import { journalRows, publicTables, query, scriptFolder } from '../../helpers/migration-scripts.ts';
import { type LocalPostgres, requirePostgres, startPostgres } from '../../helpers/postgres-server.ts';

/** The convention, spelt out here rather than taken from the runner. */
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const BASE = {
  '0000_baseline.sql': 'CREATE TABLE accounts (id integer PRIMARY KEY);\n',
  '0001_account_names.sql': "ALTER TABLE accounts ADD COLUMN name text NOT NULL DEFAULT '';\nINSERT INTO accounts (id, name) VALUES (1, 'first');\n",
  // Depends on 0001's column: it can only succeed after 0001.
  '0002_account_name_index.sql': 'CREATE INDEX accounts_name ON accounts (name);\n',
};

describe.skipIf(!requirePostgres())('MigrationRunner', () => {
  let server: LocalPostgres;
  const open: pg.Client[] = [];
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all(open.map((client) => client.end().catch(() => undefined)));
    await server?.stop();
  });

  async function session(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url, application_name: 'runner-test' });
    await client.connect();
    open.push(client);
    return client;
  }

  async function runner(url: string, directory: string, options: Partial<MigrationRunnerOptions> = {}): Promise<MigrationRunner> {
    return new MigrationRunner({ db: await session(url), directory, appliedBy: 'tester@test', ...options });
  }

  /** A database on which 0000 and 0001 of BASE are applied, and the folder that applied them. */
  async function appliedTwo() {
    const url = await server.createDatabase();
    const folder = scriptFolder({ '0000_baseline.sql': BASE['0000_baseline.sql'], '0001_account_names.sql': BASE['0001_account_names.sql'] });
    await (await runner(url, folder.directory)).up();
    return { url, folder, journal: await journalRows(url) };
  }

  it('applies every script once, in number order, and records each in the journal exactly', async () => {
    const url = await server.createDatabase();
    const folder = scriptFolder(BASE);
    const before = new Date();
    const result = await (await runner(url, folder.directory)).up();
    const after = new Date();

    expect(result.applied.map(({ script }) => script.fileName)).toEqual(['0000_baseline.sql', '0001_account_names.sql', '0002_account_name_index.sql']);
    expect(result.version).toBe(2);
    const rows = await journalRows(url);
    expect(rows.map(({ version, name, checksum, applied_by, baseline }) => ({ version, name, checksum, applied_by, baseline }))).toEqual(
      Object.entries(BASE).map(([name, sql], version) => ({ version, name, checksum: sha256(sql), applied_by: 'tester@test', baseline: false })),
    );
    for (const row of rows) {
      expect(Number.isInteger(row.duration_ms) && row.duration_ms >= 0).toBe(true);
      expect(row.applied_at.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
      expect(row.applied_at.getTime()).toBeLessThanOrEqual(after.getTime() + 1000);
    }
    // applied_at is when each script finished: in number order.
    expect(rows.map((row) => row.applied_at.getTime())).toEqual([...rows.map((row) => row.applied_at.getTime())].sort((a, b) => a - b));
    expect(await query(url, 'SELECT id, name FROM accounts')).toEqual([{ id: 1, name: 'first' }]);

    const again = await (await runner(url, folder.directory)).up();
    expect(again.applied).toEqual([]);
    expect(await journalRows(url)).toEqual(rows);
    expect(await query(url, 'SELECT count(*)::int AS n FROM accounts')).toEqual([{ n: 1 }]);
  });

  it('applies only the new script on a later run', async () => {
    const { url, folder, journal } = await appliedTwo();
    folder.write({ '0002_account_name_index.sql': BASE['0002_account_name_index.sql'] });
    const result = await (await runner(url, folder.directory)).up();
    expect(result.applied.map(({ script }) => script.fileName)).toEqual(['0002_account_name_index.sql']);
    expect((await journalRows(url)).slice(0, 2)).toEqual(journal);
  });

  describe('refuses, naming the file and the fix, and runs nothing', () => {
    /** Each case starts from 0000–0001 applied and a pending 0002 whose table shows whether anything ran. */
    const pendingMarker = { '0002_audit_log.sql': 'CREATE TABLE audit_log (id integer);\n' };

    async function expectRefused(url: string, directory: string, journal: unknown, message: RegExp) {
      const up = (await runner(url, directory)).up();
      await expect(up).rejects.toThrow(message);
      await expect(up).rejects.toMatchObject({ name: 'MigrationRefusedError', reasonCode: 'Refused' });
      await expect((await runner(url, directory)).plan()).rejects.toThrow(message);
      expect((await (await runner(url, directory)).status()).problems.join('\n')).toMatch(message);
      expect(await journalRows(url)).toEqual(journal);
      expect(await publicTables(url)).toEqual(['accounts', 'sluice_migration_journal']);
    }

    it('an applied script whose text changed', async () => {
      const { url, folder, journal } = await appliedTwo();
      folder.write({ '0001_account_names.sql': "ALTER TABLE accounts ADD COLUMN name text NOT NULL DEFAULT 'x';\n", ...pendingMarker });
      await expectRefused(url, folder.directory, journal, /0001_account_names\.sql was changed after it was applied .*never edit a committed script; restore it .* new script, 0003_<name>\.sql/);
    });

    it('a gap in the numbers', async () => {
      const { url, folder, journal } = await appliedTwo();
      folder.write({ '0003_audit_log.sql': 'CREATE TABLE audit_log (id integer);\n' });
      await expectRefused(url, folder.directory, journal, /0002 is missing \(numbers must follow on without gaps\): renumber 0003_audit_log\.sql to 0002/);
    });

    it('two scripts with the same number', async () => {
      const { url, folder, journal } = await appliedTwo();
      folder.write({ ...pendingMarker, '0002_audit_index.sql': 'CREATE TABLE audit_index (id integer);\n' });
      await expectRefused(url, folder.directory, journal, /0002_audit_index\.sql and 0002_audit_log\.sql share the number 0002: keep the one already committed and renumber the newer one to 0003/);
    });

    it('a new script numbered below an applied one', async () => {
      // A journal that skips 0002 (0003 applied by another branch's folder, then 0002 merged in).
      const url = await server.createDatabase();
      const folder = scriptFolder({ '0000_baseline.sql': BASE['0000_baseline.sql'], '0001_account_names.sql': BASE['0001_account_names.sql'], '0002_audit_log.sql': 'SELECT 1;\n', '0003_audit_index.sql': 'SELECT 1;\n' });
      await (await runner(url, folder.directory)).up();
      await query(url, 'DELETE FROM sluice_migration_journal WHERE version = 2');
      folder.write(pendingMarker);
      const journal = await journalRows(url);
      const up = (await runner(url, folder.directory)).up();
      await expect(up).rejects.toThrow(/0002_audit_log\.sql is new but numbered below 0003_audit_index\.sql, which is already applied: renumber it to 0004/);
      expect(await journalRows(url)).toEqual(journal);
      expect(await publicTables(url)).toEqual(['accounts', 'sluice_migration_journal']);
    });

    it('a file name that does not follow the convention', async () => {
      const { url, folder, journal } = await appliedTwo();
      folder.write({ ...pendingMarker, '3-audit-index.sql': 'SELECT 1;\n' });
      await expectRefused(url, folder.directory, journal, /3-audit-index\.sql does not follow the naming convention NNNN_<name>\.sql .*rename it/);
    });

    it('an applied script deleted from the folder', async () => {
      const { url, folder, journal } = await appliedTwo();
      folder.remove();
      const other = scriptFolder({ '0000_baseline.sql': BASE['0000_baseline.sql'] });
      const up = (await runner(url, other.directory)).up();
      await expect(up).rejects.toThrow(/the journal records 0001_account_names\.sql .* has no script 0001: a committed script was deleted or renamed; restore 0001_account_names\.sql unchanged/);
      expect(await journalRows(url)).toEqual(journal);
    });

    it('a script with its own COMMIT', async () => {
      const { url, folder, journal } = await appliedTwo();
      folder.write({ '0002_audit_log.sql': 'CREATE TABLE audit_log (id integer);\nCOMMIT;\n' });
      await expectRefused(url, folder.directory, journal, /0002_audit_log\.sql has its own BEGIN\/COMMIT\/ROLLBACK/);
    });
  });

  it('rolls a failing script back entirely: nothing of it, no later script, the journal unchanged', async () => {
    const { url, folder, journal } = await appliedTwo();
    folder.write({
      '0002_audit_log.sql': 'CREATE TABLE audit_log (id integer);\nINSERT INTO audit_log VALUES (1);\nINSERT INTO no_such_table VALUES (1);\n',
      '0003_audit_index.sql': 'CREATE TABLE audit_index (id integer);\n',
    });
    const up = (await runner(url, folder.directory)).up();
    await expect(up).rejects.toMatchObject({ name: 'MigrationScriptFailedError', reasonCode: 'ScriptFailed', fileName: '0002_audit_log.sql' });
    await expect(up).rejects.toThrow(/0002_audit_log\.sql failed and was rolled back entirely; .*relation "no_such_table" does not exist at line 3 \(SQLSTATE 42P01\)/);
    expect(await journalRows(url)).toEqual(journal);
    expect(await publicTables(url)).toEqual(['accounts', 'sluice_migration_journal']);
  });

  it('runs a -- sluice:no-transaction script statement by statement (CREATE INDEX CONCURRENTLY works) and records it', async () => {
    const { url, folder } = await appliedTwo();
    folder.write({ '0002_account_name_index.sql': '-- sluice:no-transaction\nCREATE INDEX CONCURRENTLY accounts_name ON accounts (name);\nCREATE INDEX CONCURRENTLY accounts_id_name ON accounts (id, name);\n' });
    const result = await (await runner(url, folder.directory)).up();
    expect(result.applied.map(({ script }) => [script.fileName, script.transactional])).toEqual([['0002_account_name_index.sql', false]]);
    expect(await query(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'accounts' AND indexname LIKE 'accounts_%name' ORDER BY indexname")).toEqual([{ indexname: 'accounts_id_name' }, { indexname: 'accounts_name' }]);
    expect((await journalRows(url)).map((row) => row.name)).toEqual(['0000_baseline.sql', '0001_account_names.sql', '0002_account_name_index.sql']);
  });

  it('reports a non-transactional script that failed half-way: what stays applied, that it is not recorded, what to do', async () => {
    const { url, folder, journal } = await appliedTwo();
    folder.write({
      '0002_account_name_index.sql': '-- sluice:no-transaction\nCREATE INDEX CONCURRENTLY accounts_name ON accounts (name);\n\nCREATE INDEX CONCURRENTLY no_such_index ON no_such_table (id);\n',
      '0003_audit_log.sql': 'CREATE TABLE audit_log (id integer);\n',
    });
    const up = (await runner(url, folder.directory)).up();
    await expect(up).rejects.toMatchObject({ name: 'NonTransactionalScriptFailedError', statement: 2, statements: 2 });
    await expect(up).rejects.toThrow(
      /0002_account_name_index\.sql ran outside a transaction \(-- sluice:no-transaction\) and failed at statement 2 of 2: relation "no_such_table" does not exist in the statement at line 4 .*Nothing was rolled back: statement 1 was applied and stays applied.*not recorded in the journal.*sluice migrate baseline 2/,
    );
    // The first statement's index stays; the script is not journalled; 0003 never ran.
    expect(await query(url, "SELECT indexname FROM pg_indexes WHERE indexname = 'accounts_name'")).toEqual([{ indexname: 'accounts_name' }]);
    expect(await journalRows(url)).toEqual(journal);
    expect(await publicTables(url)).toEqual(['accounts', 'sluice_migration_journal']);
  });

  it('baseline marks the scripts a database already has, without running them; up then applies only the rest', async () => {
    const url = await server.createDatabase();
    // The schema made by hand, before migrations existed.
    await query(url, BASE['0000_baseline.sql'] + BASE['0001_account_names.sql']);
    const folder = scriptFolder(BASE);
    const marked = await (await runner(url, folder.directory)).baseline(1);
    expect(marked.marked.map((script) => script.fileName)).toEqual(['0000_baseline.sql', '0001_account_names.sql']);
    const rows = await journalRows(url);
    expect(rows.map(({ version, name, checksum, duration_ms, applied_by, baseline }) => ({ version, name, checksum, duration_ms, applied_by, baseline }))).toEqual([
      { version: 0, name: '0000_baseline.sql', checksum: sha256(BASE['0000_baseline.sql']), duration_ms: 0, applied_by: 'tester@test', baseline: true },
      { version: 1, name: '0001_account_names.sql', checksum: sha256(BASE['0001_account_names.sql']), duration_ms: 0, applied_by: 'tester@test', baseline: true },
    ]);
    // Not run: 0001's INSERT would have added a second row.
    expect(await query(url, 'SELECT count(*)::int AS n FROM accounts')).toEqual([{ n: 1 }]);
    const up = await (await runner(url, folder.directory)).up();
    expect(up.applied.map(({ script }) => script.fileName)).toEqual(['0002_account_name_index.sql']);
    await expect((await runner(url, folder.directory)).baseline(7)).rejects.toThrow(/baseline 7: .* has no script 0007 \(its highest is 0002_account_name_index\.sql\)/);
  });

  it('plan lists what up would apply and changes nothing, not even creating the journal', async () => {
    const url = await server.createDatabase();
    const folder = scriptFolder({ ...BASE, '0003_account_email.sql': '-- sluice:no-transaction\nALTER TABLE accounts ADD COLUMN email text;\n' });
    const plan = await (await runner(url, folder.directory)).plan();
    expect(plan.pending.map((script) => [script.fileName, script.transactional])).toEqual([
      ['0000_baseline.sql', true],
      ['0001_account_names.sql', true],
      ['0002_account_name_index.sql', true],
      ['0003_account_email.sql', false],
    ]);
    expect(plan.appliedVersion).toBeUndefined();
    expect(await publicTables(url)).toEqual([]);
  });

  it('waits for the migration lock, and gives up after its timeout naming the holder, running nothing', async () => {
    const url = await server.createDatabase();
    const holder = new pg.Client({ connectionString: url, application_name: 'the-other-runner' });
    await holder.connect();
    open.push(holder);
    // The key is "sluice" in ASCII, the same for every runner.
    await holder.query("SELECT pg_advisory_lock(x'736c75696365'::bigint)");
    const folder = scriptFolder(BASE);
    const started = Date.now();
    const up = (await runner(url, folder.directory, { lockTimeoutMs: 600 })).up();
    await expect(up).rejects.toMatchObject({ name: 'MigrationLockTimeoutError', reasonCode: 'LockTimeout' });
    await expect(up).rejects.toThrow(/held the migration lock .*"the-other-runner"/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(await publicTables(url)).toEqual([]);

    // Released while a runner waits: it proceeds.
    const waiting = (await runner(url, folder.directory, { lockTimeoutMs: 10_000 })).up();
    setTimeout(() => void holder.query("SELECT pg_advisory_unlock(x'736c75696365'::bigint)"), 300);
    expect((await waiting).applied).toHaveLength(3);
  });

  it('rebuild drops a development database and applies every script again; it refuses a production-marked one', async () => {
    const url = await server.createDatabase();
    const folder = scriptFolder(BASE);
    await (await runner(url, folder.directory)).up();
    await query(url, "INSERT INTO accounts (id, name) VALUES (2, 'second')");
    await query(url, 'CREATE SCHEMA scratch; CREATE TABLE scratch.notes (id integer)');

    await expect((await runner(url, folder.directory)).rebuild({ confirmed: false })).rejects.toThrow(/pass --yes to confirm\. Nothing was dropped/);
    const rebuilt = await (await runner(url, folder.directory)).rebuild({ confirmed: true });
    expect(rebuilt.applied).toHaveLength(3);
    expect(await query(url, 'SELECT id, name FROM accounts')).toEqual([{ id: 1, name: 'first' }]);
    expect(await query(url, "SELECT nspname FROM pg_namespace WHERE nspname = 'scratch'")).toEqual([]);

    await markProduction(await session(url), 'test');
    const refused = (await runner(url, folder.directory)).rebuild({ confirmed: true });
    await expect(refused).rejects.toMatchObject({ name: 'RebuildRefusedError' });
    await expect(refused).rejects.toThrow(/this database is marked production .* Nothing was dropped/);
    expect(await query(url, 'SELECT count(*)::int AS n FROM accounts')).toEqual([{ n: 1 }]);
  });

  it("applies the app's own scripts from lib/runtime/app/migrations", async () => {
    const url = await server.createDatabase();
    const directory = join(import.meta.dirname, '../../../lib/runtime/app/migrations');
    const result = await (await runner(url, directory)).up();
    expect(result.applied.map(({ script }) => script.fileName).slice(0, 2)).toEqual(['0000_baseline.sql', '0001_processed_jobs.sql']);
    expect((await journalRows(url))[1]!.checksum).toBe(sha256(readFileSync(join(directory, '0001_processed_jobs.sql'), 'utf8')));
    expect(await query(url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'processed_jobs' AND column_name = 'message_id'")).toEqual([{ column_name: 'message_id' }]);
  });
});
