// The command line of `sluice sandbox [--demo] | status | package <version>`: node:util parseArgs,
// every problem at once, the usage after a syntax error.
import { parseFlags, problemsMessage } from '../../command-line.ts';
import { Problems } from '../../problems.ts';
import { RELEASE_VERSION_PATTERN } from '../../release/release-version.ts';

export type SandboxArgs =
  | { readonly command: 'start'; readonly dir?: string; readonly demo: boolean; readonly statusPage: boolean; readonly database: boolean }
  | { readonly command: 'status'; readonly dir?: string; readonly json: boolean }
  | { readonly command: 'package'; readonly dir?: string; readonly version: string }
  | { readonly command: 'help' };

export const sandboxCommandsSummary = `The sandbox (sluice sandbox --help for the options):
  sluice sandbox [--demo] | status | package <version>   the whole system on this machine, on loopback`;

export const sandboxUsage = `Usage:
  sluice sandbox                    start everything on 127.0.0.1 and print how to use it; Ctrl-C stops it all
  sluice sandbox --demo             start it, release v1 → v2 → v1 under load, crash and restart a worker,
                                    check that nothing was lost, stop; exit 0 only when every check holds
  sluice sandbox status             each target's version and state, traffic, queue depth and dead-letter
                                    queue, stream lag and lease owner per shard, the current release
  sluice sandbox package <version>  build the working tree as <version> into the running sandbox, and
                                    print the sluice release command that releases it

Options:
  --dir DIR            the sandbox's directory (default: $TMPDIR/sluice-sandbox-<uid>)
  --no-status-page     (start) do not serve the status page
  --no-database        (start) no PostgreSQL even when it is installed: the app runs without a database
  --json               (status) the status as one JSON object

Needs HAProxy (sudo apt-get install -y haproxy); uses PostgreSQL when installed (postgresql).
Exit codes: 0 done (the demo passed); 1 the demo failed a check; 3 bad input, or something missing.`;

export class SandboxInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxInputError';
  }
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  dir: { type: 'string' },
  demo: { type: 'boolean' },
  'no-status-page': { type: 'boolean' },
  'no-database': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** Reads `sluice sandbox …` (argv without "sandbox"). */
export function parseSandboxArgs(argv: readonly string[]): SandboxArgs {
  const { values, positionals } = parseFlags(argv, OPTIONS, sandboxUsage, (message) => new SandboxInputError(message));
  if (values.help || positionals[0] === 'help') return { command: 'help' };
  const problems = new Problems();
  const [command = 'start', ...rest] = positionals;
  const dir = values.dir;
  problems.check(dir === undefined || dir.trim() !== '', '--dir must name a directory (given an empty value)');
  const only = (flag: string, given: boolean | undefined, commands: string) => problems.check(!given, `${flag} applies to ${commands} only (given with ${command === 'start' ? 'sluice sandbox' : `sluice sandbox ${command}`})`);
  let args: SandboxArgs | undefined;
  if (command === 'start') {
    args = { command, ...(dir ? { dir } : {}), demo: values.demo ?? false, statusPage: !(values['no-status-page'] ?? false), database: !(values['no-database'] ?? false) };
    only('--json', values.json, 'sluice sandbox status');
  } else if (command === 'status') {
    problems.check(rest.length === 0, `sluice sandbox status takes no arguments (given ${rest.join(' ')})`);
    only('--demo', values.demo, 'starting the sandbox');
    only('--no-status-page', values['no-status-page'], 'starting the sandbox');
    only('--no-database', values['no-database'], 'starting the sandbox');
    args = { command, ...(dir ? { dir } : {}), json: values.json ?? false };
  } else if (command === 'package') {
    const [version, ...extra] = rest;
    problems.check(version !== undefined, 'sluice sandbox package needs the version to build, e.g. sluice sandbox package v2');
    problems.check(version === undefined || RELEASE_VERSION_PATTERN.test(version), `version "${version}" must be letters, digits, ".", "_", "+" or "-", starting with a letter or digit (e.g. v2)`);
    problems.check(extra.length === 0, `sluice sandbox package takes one version (given also ${extra.join(' ')})`);
    only('--demo', values.demo, 'starting the sandbox');
    only('--json', values.json, 'sluice sandbox status');
    only('--no-status-page', values['no-status-page'], 'starting the sandbox');
    only('--no-database', values['no-database'], 'starting the sandbox');
    args = { command, ...(dir ? { dir } : {}), version: version ?? '' };
  } else {
    problems.add(`unknown sandbox command "${command}": use sluice sandbox, sluice sandbox --demo, sluice sandbox status or sluice sandbox package <version>`);
  }
  if (problems.list.length > 0) throw new SandboxInputError(problemsMessage(problems.list));
  return args!;
}
