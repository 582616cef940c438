import { parseArgs } from 'node:util';
import { formatProblems, Problems } from '../../problems.ts';
import { GuardInputError } from '../errors.ts';

export interface GuardArgs {
  readonly command: 'guard';
  /** The cloud assembly of what is deployed now (synthesized from the base branch). */
  readonly base: string;
  /** The cloud assembly to deploy. */
  readonly head: string;
  readonly json: boolean;
  readonly markdownFile?: string;
  readonly allowDestructive: boolean;
}

export type GuardCliArgs = GuardArgs | { readonly command: 'help' };

/** The pull-request label that sets --allow-destructive in CI (.github/workflows/pull-request.yml). */
export const OVERRIDE_LABEL = 'allow-destructive-change';

export const guardUsage = `Usage:
  sluice guard --base <cdk.out dir> [--head <cdk.out dir>] [options]
      refuse a deploy that would replace or remove a stateful resource (offline: two synthesized
      cloud assemblies, stacks matched by name)

Options:
  --base DIR             cloud assembly of what is deployed now (e.g. synthesized from the base branch)
  --head DIR             cloud assembly to deploy (default: cdk.out)
  --json                 one JSON object on stdout instead of the report
  --markdown FILE        also write the report as Markdown (the pull-request comment)
  --allow-destructive    report destructive changes but exit 0 (CI: the label ${OVERRIDE_LABEL})

Exit codes: 0 nothing stateful replaced or removed (or --allow-destructive);
            3 bad input (missing directory, no manifest.json, bad flag); 6 destructive change.`;

const options = {
  help: { type: 'boolean', short: 'h' },
  base: { type: 'string' },
  head: { type: 'string' },
  json: { type: 'boolean' },
  markdown: { type: 'string' },
  'allow-destructive': { type: 'boolean' },
} as const;

/** Reads `sluice guard`'s flags (argv without the command); every problem is reported at once. */
export function parseGuardArgs(argv: readonly string[]): GuardCliArgs {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true });
  } catch (error) {
    // Node's hint about positionals starting with "-" does not apply: guard takes none.
    throw new GuardInputError(`${(error as Error).message.replace(/\. To specify a positional argument.*$/s, '')}\n\n${guardUsage}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help' };
  const problems = new Problems();
  problems.check(values.base !== undefined && values.base !== '', '--base is required: the cdk.out directory to compare against (e.g. synthesized from the base branch)');
  problems.check(values.head !== '', '--head must be a directory (given "")');
  problems.check(values.markdown !== '', '--markdown must be a file name (given "")');
  problems.check(positionals.length === 0, `guard takes no arguments, only flags (given "${positionals.join(' ')}")`);
  problems.throwIfAny((list) => new GuardInputError(list.length === 1 ? list[0]! : `invalid flags:\n${formatProblems(list)}`));
  return {
    command: 'guard',
    base: values.base!,
    head: values.head ?? 'cdk.out',
    json: values.json ?? false,
    markdownFile: values.markdown,
    allowDestructive: values['allow-destructive'] ?? false,
  };
}
