/** Base error of the feature-flag client and CLI; `reasonCode` says what kind of failure it is. */
export class FlagsError extends Error {
  constructor(
    message: string,
    readonly reasonCode: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'FlagsError';
  }
}
