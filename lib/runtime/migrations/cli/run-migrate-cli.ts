// `sluice migrate status|plan|up|baseline N|rebuild`, for local use against a connection string.
// Never throws: every outcome is an exit code (MigrateExitCode) and a message that says what to do.
import { connectDatabase, DatabaseConfigurationError, DatabaseConnectionError } from '../../database.ts';
import { formatDuration } from '../../duration.ts';
import { formatMigrationNumber } from '../../schema-journal.ts';
import { MigrationError, MigrationLockTimeoutError, MigrationScriptFailedError, NonTransactionalScriptFailedError } from '../errors.ts';
import type { MigrationCheck } from '../migration-check.ts';
import { MigrationRunner } from '../migration-runner.ts';
import { MigrateExitCode, type MigrateExitCodeValue } from './migrate-exit-codes.ts';
import { type MigrateArgs, migrateUsage, parseMigrateArgs } from './parse-migrate-args.ts';

export interface MigrateCliEnvironment {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The folder used without --dir: the app's lib/runtime/app/migrations. */
  readonly defaultDirectory: string;
  /** Recorded as applied_by, e.g. `alice@laptop (sluice migrate)`. */
  readonly appliedBy: string;
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
}

/** Runs `sluice migrate …` (argv after "migrate") and returns its exit code; never throws. */
export async function runMigrateCli(argv: readonly string[], environment: MigrateCliEnvironment): Promise<MigrateExitCodeValue> {
  let args: MigrateArgs | 'help';
  try {
    args = parseMigrateArgs(argv, environment.env);
  } catch (error) {
    environment.stderr(`sluice migrate: ${(error as Error).message}`);
    return MigrateExitCode.badInput;
  }
  if (args === 'help') {
    environment.stdout(migrateUsage);
    return MigrateExitCode.success;
  }
  const target = describeUrl(args.databaseUrl);
  const directory = args.directory ?? environment.defaultDirectory;
  try {
    const db = await connectDatabase({ connectionString: args.databaseUrl, application_name: `sluice migrate (${environment.appliedBy})`.slice(0, 63) });
    try {
      const runner = new MigrationRunner({
        db,
        directory,
        appliedBy: environment.appliedBy,
        lockTimeoutMs: args.lockTimeoutMs,
        onEvent: (event) => {
          if (event.type === 'applied' && !args.json) {
            environment.stdout(`  ${event.script.fileName.padEnd(40)} applied in ${formatDuration(event.durationMs)}${event.script.transactional ? '' : ' (outside a transaction)'}`);
          }
        },
      });
      return await runCommand(args, runner, target, directory, environment);
    } finally {
      await db.end().catch(() => undefined);
    }
  } catch (error) {
    environment.stderr(`sluice migrate ${args.command}: ${(error as Error).message}`);
    return exitCodeFor(error);
  }
}

async function runCommand(args: MigrateArgs, runner: MigrationRunner, target: string, directory: string, environment: MigrateCliEnvironment): Promise<MigrateExitCodeValue> {
  const { stdout } = environment;
  switch (args.command) {
    case 'status': {
      const status = await runner.status();
      if (args.json) stdout(JSON.stringify(checkJson(status)));
      else {
        stdout(`${target}: ${atVersion(status.appliedVersion)}, ${status.applied.length} applied, ${status.pending.length} pending (scripts in ${directory})`);
        for (const { entry } of status.applied) {
          stdout(`  ${entry.name.padEnd(40)} ${entry.baseline ? 'baseline' : 'applied '} ${entry.appliedAt.toISOString()} by ${entry.appliedBy} (${formatDuration(entry.durationMs)})`);
        }
        for (const script of status.pending) stdout(`  ${script.fileName.padEnd(40)} pending${script.transactional ? '' : ' (outside a transaction)'}`);
      }
      if (status.problems.length === 0) return MigrateExitCode.success;
      environment.stderr(`sluice migrate status: up would refuse, nothing can run until this is fixed:\n${status.problems.map((problem) => `  - ${problem}`).join('\n')}`);
      return MigrateExitCode.badInput;
    }
    case 'plan': {
      const plan = await runner.plan();
      if (args.json) stdout(JSON.stringify(checkJson(plan)));
      else {
        stdout(`Plan: ${target} is ${atVersion(plan.appliedVersion)}; ${plan.pending.length === 0 ? 'nothing to apply' : `${plan.pending.length} script(s) would be applied, in this order`} — dry run, nothing changed`);
        for (const script of plan.pending) stdout(`  ${script.fileName.padEnd(40)} ${script.transactional ? 'in a transaction' : 'outside a transaction (-- sluice:no-transaction)'}`);
      }
      return MigrateExitCode.success;
    }
    case 'up': {
      stdout(`sluice migrate up: ${target}, scripts in ${directory}`);
      const result = await runner.up();
      stdout(result.applied.length === 0 ? `nothing to apply: ${target} is at ${formatMigrationNumber(result.version)}` : `applied ${result.applied.length} script(s): ${target} is at ${formatMigrationNumber(result.version)}`);
      return MigrateExitCode.success;
    }
    case 'baseline': {
      const result = await runner.baseline(args.baselineVersion!);
      for (const script of result.marked) stdout(`  ${script.fileName.padEnd(40)} marked applied (not run)`);
      stdout(result.marked.length === 0 ? `nothing to mark: every script up to ${formatMigrationNumber(args.baselineVersion!)} is already in the journal` : `marked ${result.marked.length} script(s): ${target} is at ${formatMigrationNumber(result.version)}`);
      return MigrateExitCode.success;
    }
    case 'rebuild': {
      stdout(`sluice migrate rebuild: dropping every schema of ${target} and applying every script`);
      const result = await runner.rebuild({ confirmed: args.yes });
      stdout(`rebuilt: ${target} is at ${formatMigrationNumber(result.version)}`);
      return MigrateExitCode.success;
    }
  }
}

function exitCodeFor(error: unknown): MigrateExitCodeValue {
  if (error instanceof NonTransactionalScriptFailedError) return MigrateExitCode.partiallyApplied;
  if (error instanceof MigrationScriptFailedError) return MigrateExitCode.failed;
  if (error instanceof MigrationLockTimeoutError) return MigrateExitCode.lockNotAcquired;
  if (error instanceof MigrationError || error instanceof DatabaseConnectionError || error instanceof DatabaseConfigurationError) return MigrateExitCode.badInput;
  // Anything else (the connection lost mid-run) is a failure whose script, if any, was rolled back.
  return MigrateExitCode.failed;
}

function atVersion(version: number | undefined): string {
  return version === undefined ? 'without a journal (nothing applied)' : `at ${formatMigrationNumber(version)}`;
}

function checkJson(check: MigrationCheck) {
  return {
    version: check.appliedVersion ?? null,
    applied: check.applied.map(({ entry }) => ({ version: entry.version, name: entry.name, checksum: entry.checksum, appliedAt: entry.appliedAt.toISOString(), durationMs: entry.durationMs, appliedBy: entry.appliedBy, baseline: entry.baseline })),
    pending: check.pending.map((script) => ({ version: script.version, name: script.fileName, transactional: script.transactional })),
    problems: check.problems,
  };
}

/** host:port/database, never the password. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
  } catch {
    return 'the database';
  }
}
