// `sluice guard`: compares two synthesized cloud assemblies offline and refuses (exit 6) a deploy
// that would replace or remove a stateful resource. No AWS call, no credentials.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { readCloudAssembly } from '../cloud-assembly.ts';
import { compareAssemblies } from '../destructive-changes.ts';
import { GuardInputError } from '../errors.ts';
import { type GuardReport, guardReportLines, guardReportMarkdown, guardVerdict } from '../guard-report.ts';
import { nagSummary } from '../nag-summary.ts';
import { GuardExitCode, type GuardExitCodeValue } from './guard-exit-codes.ts';
import { guardUsage, OVERRIDE_LABEL, parseGuardArgs } from './parse-guard-args.ts';

export interface GuardCliEnvironment {
  /** Relative --base, --head and --markdown paths resolve against it. */
  readonly cwd: string;
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
}

const OVERRIDE_HINT = `add the pull-request label \`${OVERRIDE_LABEL}\` (locally: \`sluice guard --allow-destructive\`)`;

/** Runs `sluice guard` with `argv` (the flags after the command) and returns its exit code; never throws. */
export async function runGuardCli(argv: readonly string[], environment: GuardCliEnvironment): Promise<GuardExitCodeValue> {
  try {
    const args = parseGuardArgs(argv);
    if (args.command === 'help') {
      environment.stdout(guardUsage);
      return GuardExitCode.clean;
    }
    const [base, head] = await Promise.all([
      readCloudAssembly(args.base, '--base', environment.cwd),
      readCloudAssembly(args.head, '--head', environment.cwd),
    ]);
    const result = compareAssemblies(base, head);
    const report: GuardReport = { verdict: guardVerdict(result, args.allowDestructive), base: args.base, head: args.head, result, nag: nagSummary(head) };
    const exitCode = report.verdict === 'destructive' ? GuardExitCode.destructive : GuardExitCode.clean;
    if (args.markdownFile) {
      const file = resolve(environment.cwd, args.markdownFile);
      await mkdir(dirname(file), { recursive: true })
        .then(() => writeFile(file, guardReportMarkdown(report, OVERRIDE_HINT)))
        .catch((error: Error) => {
          throw new GuardInputError(`--markdown ${args.markdownFile}: cannot write it (${error.message})`);
        });
    }
    if (args.json) {
      environment.stdout(JSON.stringify({ verdict: report.verdict, exitCode, base: report.base, head: report.head, ...result, nag: report.nag }));
    } else {
      for (const line of guardReportLines(report)) environment.stdout(line);
    }
    if (report.verdict === 'destructive') {
      environment.stderr(`sluice guard: refusing: deploying the head destroys the data of ${result.destructive.length} stateful resource(s). Keep them (revert the change, or keep a moved construct's logical ID), or, if the data may go, pass --allow-destructive (in a pull request: the label ${OVERRIDE_LABEL}).`);
    }
    return exitCode;
  } catch (error) {
    // Anything else (a template the diff engine cannot read, say) also means nothing was judged.
    const message = error instanceof GuardInputError ? error.message : `could not compare the assemblies: ${error instanceof Error ? error.message : String(error)}`;
    environment.stderr(`sluice guard: ${message}`);
    if (argv.includes('--json')) environment.stdout(JSON.stringify({ verdict: 'bad-input', exitCode: GuardExitCode.badInput, message: message.split('\n')[0] }));
    return GuardExitCode.badInput;
  }
}
