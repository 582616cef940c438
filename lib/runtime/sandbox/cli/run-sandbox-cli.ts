// `sluice sandbox …`: starts the sandbox and holds it until asked to stop, runs the demo, reads the
// status of a running sandbox, or builds a new version into it. The terminal, the signals and the
// status page are the caller's (bin/sluice.ts), so a test runs every command in-process.

import { join } from 'node:path';
import { BadInputError } from '../../release/errors.ts';
import { formatDemoResult, runDemo } from '../demo.ts';
import { formatSandboxStatus } from '../format-sandbox-status.ts';
import { type Sandbox, SandboxPrerequisiteError, type SandboxOptions, startSandbox } from '../sandbox.ts';
import { sandboxGuide, sandboxReleaseCommand } from '../sandbox-guide.ts';
import { buildSandboxRelease, nextVersionName } from '../sandbox-release.ts';
import { defaultSandboxDir, readSandboxState, type SandboxState } from '../sandbox-state.ts';
import { liveSandboxStatus } from '../sandbox-status-source.ts';
import { parseSandboxArgs, SandboxInputError, sandboxUsage } from './parse-sandbox-args.ts';

export const SandboxExitCode = { ok: 0, demoFailed: 1, badInput: 3 } as const;

export interface SandboxCliEnvironment {
  /** The working tree the releases are built from. */
  readonly projectRoot: string;
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
  /** Aborted when the person asks the sandbox to stop (Ctrl-C, SIGTERM). */
  readonly signal: AbortSignal;
  /** @default - no status page */
  readonly statusPage?: SandboxOptions['statusPage'];
  /** @default defaultSandboxDir() */
  readonly defaultDir?: string;
  /** @default - HAProxy on PATH, or where Debian puts it */
  readonly locateHaproxy?: () => string | undefined;
}

export async function runSandboxCli(argv: readonly string[], environment: SandboxCliEnvironment): Promise<number> {
  const { stdout, stderr } = environment;
  try {
    const args = parseSandboxArgs(argv);
    if (args.command === 'help') {
      stdout(sandboxUsage);
      return SandboxExitCode.ok;
    }
    const dir = args.dir ?? environment.defaultDir ?? defaultSandboxDir();
    if (args.command === 'status') {
      const state = await runningSandbox(dir);
      const source = liveSandboxStatus(state);
      try {
        const status = await source.snapshot();
        for (const line of args.json ? [JSON.stringify(status)] : formatSandboxStatus(status)) stdout(line);
      } finally {
        source.close();
      }
      return SandboxExitCode.ok;
    }
    if (args.command === 'package') {
      const state = await runningSandbox(dir);
      stdout(`building ${args.version} from ${environment.projectRoot}`);
      const built = await buildSandboxRelease({ version: args.version, projectRoot: environment.projectRoot, releasesDir: state.releasesDir, artifactsDir: join(state.dir, 'artifacts') });
      stdout(`${args.version} is in the sandbox (${built}); release it with:`);
      stdout(`  ${sandboxReleaseCommand(state, args.version)}`);
      return SandboxExitCode.ok;
    }
    const startedAt = Date.now();
    const printGuide = (sandbox: Sandbox) => {
      for (const line of sandboxGuide(sandbox.state, { startedInMs: Date.now() - startedAt, targets: sandbox.targets.targets, nextVersion: nextVersionName(sandbox.state.version) })) stdout(line);
    };
    if (args.demo) {
      const result = await runDemo({
        projectRoot: environment.projectRoot,
        dir,
        database: args.database,
        ...(environment.locateHaproxy ? { locateHaproxy: environment.locateHaproxy } : {}),
        progress: stdout,
        ...(args.statusPage && environment.statusPage ? { statusPage: environment.statusPage } : {}),
        onStarted: printGuide,
        signal: environment.signal,
      });
      for (const line of formatDemoResult(result)) stdout(line);
      return result.ok ? SandboxExitCode.ok : SandboxExitCode.demoFailed;
    }
    const sandbox = await startSandbox({
      projectRoot: environment.projectRoot,
      dir,
      progress: stdout,
      database: args.database,
      ...(environment.locateHaproxy ? { locateHaproxy: environment.locateHaproxy } : {}),
      ...(args.statusPage && environment.statusPage ? { statusPage: environment.statusPage } : {}),
    });
    try {
      printGuide(sandbox);
      await new Promise<void>((resolve) => {
        if (environment.signal.aborted) resolve();
        environment.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      stdout('stopping the sandbox: workers, web apps, HAProxy, the stand-ins');
    } finally {
      await sandbox.stop();
    }
    stdout(`stopped; ${dir} removed`);
    return SandboxExitCode.ok;
  } catch (error) {
    if (error instanceof SandboxInputError || error instanceof SandboxPrerequisiteError || error instanceof BadInputError) {
      stderr(`sluice sandbox: ${error.message}`);
      return SandboxExitCode.badInput;
    }
    stderr(`sluice sandbox: ${(error as Error).message}`);
    return SandboxExitCode.demoFailed;
  }
}

async function runningSandbox(dir: string): Promise<SandboxState> {
  const found = await readSandboxState(dir);
  if (!found) throw new SandboxPrerequisiteError(`no sandbox in ${dir}: start one with npx sluice sandbox${dir === defaultSandboxDir() ? '' : ` --dir ${dir}`}`);
  if (!found.running) throw new SandboxPrerequisiteError(`the sandbox in ${dir} (pid ${found.state.pid}) is not running any more: start it again with npx sluice sandbox`);
  return found.state;
}
