// Errors of the migration runner. Each names the script, says what happened to the database and
// what to do next; `reasonCode` is what the CLI and the custom resource report.
import { formatProblems } from '../problems.ts';

export class MigrationError extends Error {
  /** Machine-readable reason, e.g. `Refused`, `ScriptFailed`, `LockTimeout`. */
  readonly reasonCode: string;
  constructor(message: string, reasonCode: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MigrationError';
    this.reasonCode = reasonCode;
  }
}

/** The folder or the journal is not in a state the runner can apply; nothing was run. Lists every problem. */
export class MigrationRefusedError extends MigrationError {
  constructor(readonly problems: readonly string[]) {
    super(`refused, nothing was run:\n${formatProblems(problems)}`, 'Refused');
    this.name = 'MigrationRefusedError';
  }
}

/** A script in a transaction failed: it was rolled back entirely, and no later script ran. */
export class MigrationScriptFailedError extends MigrationError {
  constructor(
    readonly fileName: string,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(
      `${fileName} failed and was rolled back entirely; it and every later script are not applied and the journal is unchanged: ${detail}. `
        + 'Fix the script (it is not recorded as applied here; if another database has applied it, leave it and add a new script instead) and run the migrations again',
      'ScriptFailed',
      options,
    );
    this.name = 'MigrationScriptFailedError';
  }
}

/**
 * A script marked `-- sluice:no-transaction` failed part-way: the statements before the failing one
 * are applied and stay applied, and the script is not in the journal. A person must look.
 */
export class NonTransactionalScriptFailedError extends MigrationError {
  constructor(
    readonly fileName: string,
    readonly version: number,
    readonly statement: number,
    readonly statements: number,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    const before = statement === 1 ? 'no statement before it ran' : statement === 2 ? 'statement 1 was applied and stays applied' : `statements 1–${statement - 1} were applied and stay applied`;
    super(
      `${fileName} ran outside a transaction (-- sluice:no-transaction) and failed at statement ${statement} of ${statements}: ${detail}. `
        + `Nothing was rolled back: ${before}, the failing statement may have left something behind (CREATE INDEX CONCURRENTLY leaves an INVALID index: DROP INDEX CONCURRENTLY IF EXISTS it), `
        + 'and the script is not recorded in the journal. Undo those statements by hand and run the migrations again, '
        + `or finish the script by hand and record it as applied with \`sluice migrate baseline ${version}\``,
      'NonTransactionalScriptFailed',
      options,
    );
    this.name = 'NonTransactionalScriptFailedError';
  }
}

/** Another runner held the migration lock for the whole wait; nothing was run. */
export class MigrationLockTimeoutError extends MigrationError {
  constructor(
    readonly timeoutMs: number,
    readonly holder: string,
  ) {
    super(`another migration runner held the migration lock for ${Math.round(timeoutMs / 1000)} s (${holder}); nothing was run: wait for it to finish and run again`, 'LockTimeout');
    this.name = 'MigrationLockTimeoutError';
  }
}

/** `rebuild` was asked of a database marked production, or without confirmation; nothing was dropped. */
export class RebuildRefusedError extends MigrationError {
  constructor(message: string) {
    super(message, 'RebuildRefused');
    this.name = 'RebuildRefusedError';
  }
}

/** Bad input the runner cannot start with (a missing folder, an unknown number); nothing was run. */
export class MigrationInputError extends MigrationError {
  constructor(message: string) {
    super(message, 'BadInput');
    this.name = 'MigrationInputError';
  }
}
