import { StreamConsumerError } from '../errors.ts';

/** `sluice stream` was given something it cannot act on; nothing was written. The message says the fix. */
export class StreamCliInputError extends StreamConsumerError {
  constructor(message: string) {
    super(message, 'BadInput');
    this.name = 'StreamCliInputError';
  }
}
