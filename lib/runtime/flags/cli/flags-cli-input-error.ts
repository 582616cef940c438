import { FlagsError } from '../flags-error.ts';

/** `sluice flags` was given something it cannot act on; nothing was written. The message says the fix. */
export class FlagsCliInputError extends FlagsError {
  constructor(message: string) {
    super(message, 'BadInput');
    this.name = 'FlagsCliInputError';
  }
}
