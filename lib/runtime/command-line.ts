// What the CLIs (`sluice release|status`, `sluice stream …`) share in reading a command line: the
// flags every command takes, node:util parseArgs with a syntax error shown with the usage, and the
// one message for every problem.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatProblems } from './problems.ts';

/** The flags every sluice command takes: which stage's stack, in which region, and the output form. */
export const STAGE_FLAGS = {
  help: { type: 'boolean', short: 'h' },
  stage: { type: 'string' },
  region: { type: 'string' },
  'stack-name': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/**
 * Reads `argv` (strict, positionals allowed) with STAGE_FLAGS and `options`; a syntax error becomes
 * `toError(message + usage)`, without Node's hint about positionals.
 */
export function parseCommandLine<Options extends NonNullable<ParseArgsConfig['options']>>(argv: readonly string[], options: Options, usage: string, toError: (message: string) => Error) {
  return parseFlags(argv, { ...STAGE_FLAGS, ...options }, usage, toError);
}

/** parseCommandLine for a command that works on no stage (`sluice migrate`, `sluice sandbox`): `options` alone. */
export function parseFlags<Options extends NonNullable<ParseArgsConfig['options']>>(argv: readonly string[], options: Options, usage: string, toError: (message: string) => Error) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options });
  } catch (error) {
    throw toError(`${(error as Error).message.replace(/\. To specify a positional argument.*$/s, '')}\n\n${usage}`);
  }
}

/** One problem is the whole message; several are counted and listed. */
export function problemsMessage(problems: readonly string[]): string {
  return problems.length === 1 ? problems[0]! : `${problems.length} problems:\n${formatProblems(problems)}`;
}
