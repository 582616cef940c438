// `npx sluice migrate …` as a developer runs it, against a real PostgreSQL: the commands, their
// output and exit codes (in-process, through the CLI's entry function, to keep a loaded machine's
// process start-ups out of it), the real executable, and two runners started at once in separate
// processes applying every script exactly once.
import { execFile } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrateCli } from '../../../lib/runtime/migrations/cli/run-migrate-cli.ts';
import { freePort } from '../../helpers/haproxy.ts';
import { journalRows, publicTables, query, scriptFolder } from '../../helpers/migration-scripts.ts';
import { type LocalPostgres, requirePostgres, startPostgres } from '../../helpers/postgres-server.ts';
import { projectRoot } from '../../helpers/run-cdk.ts';

interface Run {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** bin/sluice.ts in a process of its own. */
function sluiceProcess(...args: string[]): Promise<Run> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'bin/sluice.ts', 'migrate', ...args], { cwd: projectRoot, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ exitCode: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The CLI's entry function, as bin/sluice.ts calls it, with its output captured. */
async function sluice(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const exitCode = await runMigrateCli(args, {
    env: {},
    defaultDirectory: '/nonexistent',
    appliedBy: 'tester@test (sluice migrate)',
    stdout: (line) => {
      stdout += `${line}\n`;
    },
    stderr: (line) => {
      stderr += `${line}\n`;
    },
  });
  return { exitCode, stdout, stderr };
}

/**
 * Each script appends to `runs` — a table the scripts share — and sleeps, so that two runners
 * started together overlap, and a script run twice would leave two rows.
 */
const SLOW_SCRIPTS = {
  '0000_baseline.sql': 'CREATE TABLE runs (script text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());\n',
  ...Object.fromEntries(
    [1, 2, 3, 4].map((n) => [`000${n}_step_${n}.sql`, `INSERT INTO runs (script) VALUES ('000${n}');\nSELECT pg_sleep(0.2);\nCREATE TABLE step_${n} (id integer);\n`]),
  ),
};

describe.skipIf(!requirePostgres())('sluice migrate', () => {
  let server: LocalPostgres;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });

  describe.concurrent('commands', () => {
    it('npx sluice migrate: --help prints the usage with the exit codes; a refusal exits 3', async () => {
      const [help, refused] = await Promise.all([sluiceProcess('--help'), sluiceProcess('up')]);
      expect(help.exitCode).toBe(0);
      expect(help.stdout).toMatch(/^Usage:\n {2}sluice migrate status {3}--database-url URL/);
      expect(help.stdout).toContain('Exit codes: 0 done; 1 a script failed and was rolled back;');
      expect(refused.exitCode).toBe(3);
      expect(refused.stderr).toContain('--database-url is required (or set DATABASE_URL)');
    }, 120_000);

    it('bad input: exit 3, saying what to give, before connecting', async () => {
      const missingUrl = await sluice('up');
      expect(missingUrl.exitCode).toBe(3);
      expect(missingUrl.stderr).toBe('sluice migrate: --database-url is required (or set DATABASE_URL): postgres://user:password@host:port/database\n');
      const baseline = await sluice('baseline', '--database-url', server.url);
      expect(baseline.exitCode).toBe(3);
      expect(baseline.stderr).toContain('baseline needs the number of the last script the database already has, e.g. "sluice migrate baseline 3" (given none)');
      const unknown = await sluice('down', '--database-url', server.url);
      expect(unknown.exitCode).toBe(3);
      expect(unknown.stderr).toMatch(/^sluice migrate: unknown command "migrate down": use one of status, plan, up, baseline, rebuild\n/);
    });

    it('a database that does not answer: exit 3, saying what to check, no stack trace', async () => {
      const run = await sluice('status', '--database-url', `postgres://postgres@127.0.0.1:${await freePort()}/postgres`);
      expect(run.exitCode).toBe(3);
      expect(run.stderr).toMatch(/^sluice migrate status: could not connect to the database at 127\.0\.0\.1:\d+\/postgres: .*\(is the database running, and does its security group let this host in\?\)\n$/);
    });

    it('plan, up, status, up again: what would run, what ran, what is applied, nothing', async () => {
      const url = await server.createDatabase();
      const folder = scriptFolder({
        '0000_baseline.sql': 'CREATE TABLE accounts (id integer PRIMARY KEY);\n',
        '0001_account_index.sql': '-- sluice:no-transaction\nCREATE INDEX CONCURRENTLY accounts_id ON accounts (id);\n',
      });
      const plan = await sluice('plan', '--database-url', url, '--dir', folder.directory);
      expect(plan.exitCode).toBe(0);
      expect(plan.stdout).toMatch(/^Plan: 127\.0\.0\.1:\d+\/\w+ is without a journal \(nothing applied\); 2 script\(s\) would be applied, in this order — dry run, nothing changed\n/);
      expect(plan.stdout).toContain('  0000_baseline.sql                        in a transaction\n  0001_account_index.sql                   outside a transaction (-- sluice:no-transaction)\n');
      expect(await publicTables(url)).toEqual([]);

      const up = await sluice('up', '--database-url', url, '--dir', folder.directory);
      expect(up.exitCode).toBe(0);
      expect(up.stdout).toMatch(/ {2}0000_baseline\.sql +applied in [\d.]+s\n {2}0001_account_index\.sql +applied in [\d.]+s \(outside a transaction\)\napplied 2 script\(s\): 127\.0\.0\.1:\d+\/\w+ is at 0001\n$/);

      const status = await sluice('status', '--database-url', url, '--dir', folder.directory, '--json');
      expect(status.exitCode).toBe(0);
      const json = JSON.parse(status.stdout) as { version: number; applied: { name: string; appliedBy: string; baseline: boolean }[]; pending: unknown[]; problems: unknown[] };
      expect(json).toMatchObject({ version: 1, pending: [], problems: [] });
      expect(json.applied.map((entry) => entry.name)).toEqual(['0000_baseline.sql', '0001_account_index.sql']);
      expect(json.applied[0]!.appliedBy).toBe('tester@test (sluice migrate)');

      const again = await sluice('up', '--database-url', url, '--dir', folder.directory);
      expect(again.exitCode).toBe(0);
      expect(again.stdout).toMatch(/nothing to apply: 127\.0\.0\.1:\d+\/\w+ is at 0001\n$/);
    });

    it('exit 1 for a script rolled back, 2 for a non-transactional one that failed part-way, 3 for a refusal', async () => {
      const [failed, partial, refused] = await Promise.all([server.createDatabase(), server.createDatabase(), server.createDatabase()]);
      const rolledBack = scriptFolder({ '0000_baseline.sql': 'CREATE TABLE a (id integer);\nINSERT INTO missing VALUES (1);\n' });
      const halfway = scriptFolder({ '0000_baseline.sql': '-- sluice:no-transaction\nCREATE TABLE a (id integer);\nINSERT INTO missing VALUES (1);\n' });
      const gap = scriptFolder({ '0000_baseline.sql': 'SELECT 1;\n', '0002_late.sql': 'SELECT 1;\n' });
      const [one, two, three] = await Promise.all([
        sluice('up', '--database-url', failed, '--dir', rolledBack.directory),
        sluice('up', '--database-url', partial, '--dir', halfway.directory),
        sluice('up', '--database-url', refused, '--dir', gap.directory),
      ]);
      expect(one.exitCode).toBe(1);
      expect(one.stderr).toMatch(/^sluice migrate up: 0000_baseline\.sql failed and was rolled back entirely/);
      expect(await publicTables(failed)).toEqual([]);
      expect(two.exitCode).toBe(2);
      expect(two.stderr).toMatch(/^sluice migrate up: 0000_baseline\.sql ran outside a transaction .* failed at statement 2 of 2/);
      expect(await publicTables(partial)).toEqual(['a', 'sluice_migration_journal']);
      expect(await journalRows(partial)).toEqual([]);
      expect(three.exitCode).toBe(3);
      expect(three.stderr).toBe('sluice migrate up: refused, nothing was run:\n  - 0001 is missing (numbers must follow on without gaps): renumber 0002_late.sql to 0001, unless a database has applied it already\n');
    });

    it('exit 4 when another runner holds the lock for the whole --lock-timeout; rebuild without --yes: exit 3', async () => {
      const url = await server.createDatabase();
      const folder = scriptFolder({ '0000_baseline.sql': 'CREATE TABLE a (id integer);\n' });
      const holder = new pg.Client({ connectionString: url });
      await holder.connect();
      try {
        await holder.query("SELECT pg_advisory_lock(x'736c75696365'::bigint)");
        const run = await sluice('up', '--database-url', url, '--dir', folder.directory, '--lock-timeout', '1s');
        expect(run.exitCode).toBe(4);
        expect(run.stderr).toMatch(/another migration runner held the migration lock for 1 s .*nothing was run/);
      } finally {
        await holder.end();
      }
      expect(await publicTables(url)).toEqual([]);
      const rebuild = await sluice('rebuild', '--database-url', url, '--dir', folder.directory);
      expect(rebuild.exitCode).toBe(3);
      expect(rebuild.stderr).toContain('pass --yes to confirm. Nothing was dropped');
    });
  });

  it('two runners started at once, in separate processes: every script applied exactly once', async () => {
    const url = await server.createDatabase();
    const folder = scriptFolder(SLOW_SCRIPTS);
    const runs = await Promise.all([sluiceProcess('up', '--database-url', url, '--dir', folder.directory), sluiceProcess('up', '--database-url', url, '--dir', folder.directory)]);
    expect(runs.map((run) => run.exitCode)).toEqual([0, 0]);
    expect(await query(url, 'SELECT script, count(*)::int AS times FROM runs GROUP BY script ORDER BY script')).toEqual(
      ['0001', '0002', '0003', '0004'].map((script) => ({ script, times: 1 })),
    );
    expect((await journalRows(url)).map((row) => row.version)).toEqual([0, 1, 2, 3, 4]);
    // One of them applied all five; the other waited for the lock and found nothing left.
    const applied = runs.map((run) => (run.stdout.match(/ applied in /g) ?? []).length).sort();
    expect(applied).toEqual([0, 5]);
  }, 120_000);
});
