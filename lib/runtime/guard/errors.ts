// Errors of the destructive-change guard. A destructive change is a verdict, not an error; what
// fails here is input the guard cannot judge, and the message says which file and what to do.

export class GuardError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GuardError';
  }
}

/** A cloud assembly that is missing or unreadable, or flags that do not make sense (exit 3). */
export class GuardInputError extends GuardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GuardInputError';
  }
}
