// What every `sluice flags` command works with once the stage's AppConfig resources are known.
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Clock } from '../../clock.ts';
import type { AppConfigFlagsEnvironment } from './appconfig-environment.ts';

export interface FlagsCommandContext {
  readonly environment: AppConfigFlagsEnvironment;
  readonly cloudWatch: CloudWatchClient;
  /** The stack output ReleaseGateAlarmName (or --release-gate-alarm); only `ramp` needs it. */
  readonly releaseGateAlarmName?: string;
  readonly clock: Clock;
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
  /** A progress line stamped with the time since the command started: `[01:30] …`. */
  readonly progress: (line: string) => void;
}

/** `progress` for a command starting now. */
export function progressPrinter(clock: Clock, stdout: (line: string) => void): (line: string) => void {
  const startedAt = clock.now();
  return (line) => {
    const elapsed = clock.now() - startedAt;
    const minutes = Math.floor(elapsed / 60_000);
    const seconds = Math.floor((elapsed % 60_000) / 1000);
    stdout(`[${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}] ${line}`);
  };
}
