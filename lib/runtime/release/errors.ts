// Errors of the release subsystem. Each says what failed, why, and what to do next; subclasses carry
// the context (target, step, reason code) the CLI and the journal report.

export class ReleaseError extends Error {
  /** Machine-readable reason, e.g. `Target.ResponseCodeMismatch`, `InstallFailed`, `AlarmFiring`. */
  readonly reasonCode: string;
  constructor(message: string, reasonCode: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ReleaseError';
    this.reasonCode = reasonCode;
  }
}

/** The load balancer marked a target unhealthy. */
export class TargetUnhealthyError extends ReleaseError {
  constructor(readonly targetId: string, reasonCode: string, readonly description?: string) {
    super(`target ${targetId} is unhealthy (${reasonCode}${description ? `: ${description}` : ''})`, reasonCode);
    this.name = 'TargetUnhealthyError';
  }
}

/** A wait ran past its deadline. */
export class DeadlineExceededError extends ReleaseError {
  constructor(readonly targetId: string, readonly step: string, readonly deadlineMs: number, readonly lastState?: string) {
    super(
      `target ${targetId} did not finish ${step} within ${Math.round(deadlineMs / 1000)} s${lastState ? ` (last state: ${lastState})` : ''}`,
      'DeadlineExceeded',
    );
    this.name = 'DeadlineExceededError';
  }
}

/** The installer failed on a target; `outputTail` holds the last lines it printed. */
export class InstallFailedError extends ReleaseError {
  constructor(readonly targetId: string, readonly version: string, readonly outputTail: string, reasonCode = 'InstallFailed', detail?: string) {
    super(`installing ${version} on ${targetId} failed${detail ? ` (${detail})` : ''}${outputTail ? `:\n${outputTail}` : ''}`, reasonCode);
    this.name = 'InstallFailedError';
  }
}

/** After install the target reports another version than the one installed. */
export class VersionMismatchError extends ReleaseError {
  constructor(readonly targetId: string, readonly expected: string, readonly reported: string | undefined) {
    super(`target ${targetId} reports version ${reported ?? '(none)'} after installing ${expected}`, 'VersionMismatch');
    this.name = 'VersionMismatchError';
  }
}

/** A watched alarm is in ALARM. */
export class AlarmFiringError extends ReleaseError {
  constructor(readonly alarms: readonly string[]) {
    super(`alarm${alarms.length > 1 ? 's' : ''} in ALARM: ${alarms.join(', ')}`, 'AlarmFiring');
    this.name = 'AlarmFiringError';
  }
}

/** Taking a target out would leave fewer healthy targets than the minimum. */
export class CapacityError extends ReleaseError {
  constructor(message: string) {
    super(message, 'InsufficientCapacity');
    this.name = 'CapacityError';
  }
}

/** Another release holds the lock and did not let go within the wait. */
export class LockNotAcquiredError extends ReleaseError {
  constructor(readonly heldBy: { holder: string; version: string; expiresAt: number }) {
    super(
      `another release holds the lock: ${heldBy.version} by ${heldBy.holder} (expires ${new Date(heldBy.expiresAt).toISOString()}); wait for it, or rerun later`,
      'LockHeld',
    );
    this.name = 'LockNotAcquiredError';
  }
}

/** Our lock was taken over (we stopped heartbeating past its expiry). */
export class LockLostError extends ReleaseError {
  constructor(readonly releaseId: string) {
    super(`release ${releaseId} lost its lock to another release; stopping without touching more targets`, 'LockLost');
    this.name = 'LockLostError';
  }
}

/** With --supersede: a newer version is waiting or already released. */
export class SupersededError extends ReleaseError {
  constructor(readonly version: string, readonly by: string) {
    super(`${version} superseded by ${by}`, 'Superseded');
    this.name = 'SupersededError';
  }
}

/** Input that cannot work: unknown stage, missing output, missing artifact, malformed flag. Nothing was touched. */
export class BadInputError extends ReleaseError {
  constructor(message: string) {
    super(message, 'BadInput');
    this.name = 'BadInputError';
  }
}

/** Rethrows an abort as itself; everything else passes. */
export function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}
