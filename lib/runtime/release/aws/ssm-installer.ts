import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Clock } from '../../clock.ts';
import { InstallFailedError } from '../errors.ts';
import { versionFromHealthBody } from '../health-body.ts';
import type { InstallOptions, InstallResult, Installer } from '../ports.ts';
import { assertReleaseVersion } from '../release-version.ts';
import type { RetryPolicy } from './aws-call.ts';
import { type ShellCommandResult, SsmShellCommandRunner } from './ssm-shell-command.ts';

export interface SsmInstallerProps {
  readonly client: SSMClient;
  readonly clock: Clock;
  /** How often GetCommandInvocation is asked. @default 1000 milliseconds */
  readonly pollIntervalMs?: number;
  /**
   * The shell command that installs `version` (already validated against the release-version pattern).
   * @default - `/opt/sluice/bin/sluice-install '<version>'`
   */
  readonly installCommand?: (version: string) => string;
  /** How long installedVersion waits for its health-endpoint read. @default 30 seconds */
  readonly versionCheckTimeoutMs?: number;
  /** @default - see RetryPolicy */
  readonly retry?: RetryPolicy;
}

/** What `sluice-install`'s exit codes mean, and what to do about them. */
const EXIT_CODE_MEANINGS: Readonly<Record<number, string>> = {
  2: 'sluice-install rejected the version or its configuration',
  3: 'the release artifact or its checksum could not be downloaded; upload releases/<version>.tgz and releases/<version>.tgz.sha256 to the artifact bucket first',
  4: 'the new version never reported healthy on the instance, which restored its previous version; see its log below',
  5: 'the release artifact does not match its checksum (or is not a release); the instance was not changed: package and upload both files again',
  6: 'the new version never reported healthy and the instance could not restore a healthy previous version; see its log below',
};

/** How many lines of the installer's output an error carries. */
const OUTPUT_TAIL_LINES = 20;

/**
 * The instance's own health endpoint, read on the instance (it is not reachable from outside). The
 * env file is the one the user data writes: APP_PORT and HEALTH_CHECK_PATH.
 */
const READ_LOCAL_HEALTH = '. /etc/sluice/env && curl -fsS --max-time 2 "http://127.0.0.1:${APP_PORT}${HEALTH_CHECK_PATH}"';

/** Installs a release on an instance with SSM Run Command running `sluice-install`. */
export class SsmInstaller implements Installer {
  private readonly runner: SsmShellCommandRunner;
  private readonly installCommand: (version: string) => string;
  private readonly versionCheckTimeoutMs: number;

  constructor(props: SsmInstallerProps) {
    this.runner = new SsmShellCommandRunner(props);
    this.installCommand = props.installCommand ?? ((version) => `/opt/sluice/bin/sluice-install '${version}'`);
    this.versionCheckTimeoutMs = props.versionCheckTimeoutMs ?? 30_000;
  }

  async install(targetId: string, version: string, options: InstallOptions): Promise<InstallResult> {
    // Validated here, before it reaches a shell command line.
    assertReleaseVersion(version);
    const result = await this.runner.run({
      instanceId: targetId,
      commands: [this.installCommand(version)],
      timeoutMs: options.timeoutMs,
      comment: `sluice release ${version}`,
      signal: options.signal,
    });
    if (result.status !== 'Success') throw installFailure(targetId, version, result, options.timeoutMs);
    // sluice-install's last line is the health body the new version answered with: verification
    // needs no second command.
    const lastLine = result.stdout.trimEnd().split('\n').at(-1) ?? '';
    return { reportedVersion: versionFromHealthBody(lastLine) };
  }

  async installedVersion(targetId: string, signal?: AbortSignal): Promise<string | undefined> {
    const result = await this.runner.run({
      instanceId: targetId,
      commands: [READ_LOCAL_HEALTH],
      timeoutMs: this.versionCheckTimeoutMs,
      comment: 'sluice: read the local health endpoint',
      signal,
    });
    if (result.status !== 'Success') return undefined;
    return versionFromHealthBody(result.stdout);
  }
}

function installFailure(targetId: string, version: string, result: ShellCommandResult, timeoutMs: number): InstallFailedError {
  const tail = outputTail(result);
  if (result.status === 'TimedOut') {
    const delivery = result.statusDetails === 'DeliveryTimedOut';
    const detail = delivery
      ? 'SSM could not deliver the command: is the instance running and its agent online?'
      : `it did not finish within ${Math.round(timeoutMs / 1000)} s${result.statusDetails === 'DeadlineExceeded' ? '; the command was cancelled' : ''}`;
    return new InstallFailedError(targetId, version, tail, delivery ? 'Install.DeliveryTimedOut' : 'Install.TimedOut', detail);
  }
  if (result.status === 'Cancelled') return new InstallFailedError(targetId, version, tail, 'Install.Cancelled', 'the command was cancelled');
  if (result.exitCode >= 0) {
    const meaning = EXIT_CODE_MEANINGS[result.exitCode] ?? 'sluice-install failed';
    return new InstallFailedError(targetId, version, tail, `Install.ExitCode${result.exitCode}`, `exit code ${result.exitCode}: ${meaning}`);
  }
  const details = result.statusDetails || result.status;
  return new InstallFailedError(targetId, version, tail, `Install.${details}`, `SSM reports ${details}`);
}

/**
 * The last lines the script printed, stdout then stderr (SSM keeps them apart). sluice-install's own
 * last message is kept even when older lines were cut: it prints the log it explains after it.
 */
function outputTail(result: Pick<ShellCommandResult, 'stdout' | 'stderr'>): string {
  const lines = [result.stdout, result.stderr]
    .map((text) => text.replace(/\s+$/, ''))
    .filter((text) => text !== '')
    .join('\n')
    .split('\n');
  const tail = lines.slice(-OUTPUT_TAIL_LINES);
  const summary = lines.slice(0, -OUTPUT_TAIL_LINES).findLast((line) => line.startsWith('sluice-install:'));
  return (summary === undefined ? tail : [summary, '…', ...tail]).join('\n');
}
