// The command line of `sluice migrate status|plan|up|baseline N|rebuild`: node:util parseArgs, every
// problem at once, the usage after a syntax error.
import { parseFlags, problemsMessage } from '../../command-line.ts';
import { parseDurationMs } from '../../duration.ts';
import { Problems } from '../../problems.ts';
import { MigrationInputError } from '../errors.ts';

export type MigrateCommand = 'status' | 'plan' | 'up' | 'baseline' | 'rebuild';

export interface MigrateArgs {
  readonly command: MigrateCommand;
  readonly databaseUrl: string;
  /** @default - the app's lib/runtime/app/migrations */
  readonly directory?: string;
  /** For `baseline`: the last script the database already has. */
  readonly baselineVersion?: number;
  readonly lockTimeoutMs: number;
  /** For `rebuild`: the confirmation. */
  readonly yes: boolean;
  readonly json: boolean;
}

export const migrateCommandsSummary = `Database migrations (sluice migrate --help for the options):
  sluice migrate status|plan|up|baseline N|rebuild --database-url URL [--dir DIR]`;

export const migrateUsage = `Usage:
  sluice migrate status   --database-url URL   every script: applied (when, by whom, how long) or pending
  sluice migrate plan     --database-url URL   dry run: the scripts up would apply, in order; changes nothing
  sluice migrate up       --database-url URL   apply the pending scripts, each once, under the migration lock
  sluice migrate baseline N --database-url URL record scripts 0000..N as applied without running them
                                               (a database that already has that schema)
  sluice migrate rebuild  --database-url URL --yes
                                               development only: drop every schema and apply all scripts;
                                               refused on a database marked production

Options:
  --database-url URL   postgres://user:password@host:port/database (default: $DATABASE_URL)
  --dir DIR            the folder of scripts (default: lib/runtime/app/migrations)
  --lock-timeout D     how long to wait for another runner (default: 60s)
  --yes                confirm rebuild
  --json               (status, plan) one JSON object on stdout

Exit codes: 0 done; 1 a script failed and was rolled back; 2 a -- sluice:no-transaction script failed
            part-way (see the message); 3 bad input or refused, nothing run; 4 the lock was not acquired.`;

const COMMANDS: readonly MigrateCommand[] = ['status', 'plan', 'up', 'baseline', 'rebuild'];

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'database-url': { type: 'string' },
  dir: { type: 'string' },
  'lock-timeout': { type: 'string' },
  yes: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** Reads `sluice migrate …` (argv without "migrate"); 'help' for --help or no command. */
export function parseMigrateArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): MigrateArgs | 'help' {
  const { values, positionals } = parseFlags(argv, OPTIONS, migrateUsage, (message) => new MigrationInputError(message));
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') return 'help';
  if (!COMMANDS.includes(command as MigrateCommand)) {
    throw new MigrationInputError(`unknown command "migrate ${command}": use one of ${COMMANDS.join(', ')}\n\n${migrateUsage}`);
  }
  const problems = new Problems();
  const databaseUrl = values['database-url'] ?? env.DATABASE_URL ?? '';
  problems.check(databaseUrl !== '', '--database-url is required (or set DATABASE_URL): postgres://user:password@host:port/database');
  problems.check(databaseUrl === '' || /^postgres(ql)?:\/\//.test(databaseUrl), '--database-url must be a connection string postgres://user:password@host:port/database');
  let baselineVersion: number | undefined;
  if (command === 'baseline') {
    const text = rest.shift();
    baselineVersion = text !== undefined && /^\d{1,4}$/.test(text) ? Number(text) : undefined;
    problems.check(baselineVersion !== undefined, `baseline needs the number of the last script the database already has, e.g. "sluice migrate baseline 3" (given ${text === undefined ? 'none' : `"${text}"`})`);
  }
  problems.check(rest.length === 0, `unexpected argument${rest.length > 1 ? 's' : ''} ${rest.map((word) => `"${word}"`).join(', ')}`);
  const lockTimeoutMs = values['lock-timeout'] === undefined ? 60_000 : parseDurationMs(values['lock-timeout']);
  problems.check(lockTimeoutMs !== undefined, `--lock-timeout must be a duration such as 30s or 5m (given "${values['lock-timeout']}")`);
  problems.check(values.yes !== true || command === 'rebuild', '--yes only confirms rebuild');
  problems.throwIfAny((list) => new MigrationInputError(problemsMessage(list)));
  return {
    command: command as MigrateCommand,
    databaseUrl,
    ...(values.dir !== undefined ? { directory: values.dir } : {}),
    ...(baselineVersion !== undefined ? { baselineVersion } : {}),
    lockTimeoutMs: lockTimeoutMs!,
    yes: values.yes ?? false,
    json: values.json ?? false,
  };
}
