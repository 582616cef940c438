import { SettingsProblems } from '../settings-validation.ts';
import type { WorkQueueProps } from './work-queue.ts';

/**
 * Every problem with the work queue's settings; the ranges are SQS's and Lambda's limits. The
 * construct passes its props with the defaults applied, so that the visibility-timeout rule for a
 * Lambda consumer is checked against the values that will be deployed.
 */
export function validateWorkQueueSettings(settings: WorkQueueProps): string[] {
  const check = new SettingsProblems();
  check.secondsInRange('queueVisibilityTimeout', settings.queueVisibilityTimeout, 0, 43_200);
  check.wholeNumber('maxReceiveCount', settings.maxReceiveCount, 1, 1000);
  check.secondsInRange('queueRetention', settings.queueRetention, 60, 1_209_600);

  const consumer = settings.lambdaConsumer;
  if (consumer) {
    check.wholeNumber('lambdaConsumer.maxConcurrency', consumer.maxConcurrency, 2, 1000);
    check.wholeNumber('lambdaConsumer.batchSize', consumer.batchSize, 1, 10);
    check.secondsInRange('lambdaConsumer.maxBatchingWindow', consumer.maxBatchingWindow, 0, 300);
    check.secondsInRange('lambdaConsumer.timeout', consumer.timeout, 1, 900);

    // AWS recommends a visibility timeout of at least six function timeouts (plus the batching
    // window, during which received messages already wait): room for Lambda to retry a throttled
    // batch before its messages become visible and are delivered a second time.
    const visibility = settings.queueVisibilityTimeout;
    const timeout = consumer.timeout;
    const window = consumer.maxBatchingWindow;
    if (visibility && timeout && !visibility.isUnresolved() && !timeout.isUnresolved() && !window?.isUnresolved()) {
      const windowSeconds = window?.toSeconds({ integral: false }) ?? 0;
      const needed = 6 * timeout.toSeconds({ integral: false }) + windowSeconds;
      const given = visibility.toSeconds({ integral: false });
      if (given < needed) {
        const formula = windowSeconds > 0 ? '6 × lambdaConsumer.timeout + lambdaConsumer.maxBatchingWindow' : '6 × lambdaConsumer.timeout';
        check.add(`queueVisibilityTimeout must be at least ${formula} = ${needed} seconds, as AWS recommends for a Lambda consumer; raise it or shorten the timeout (given ${given})`);
      }
    }
  }
  return [...check.list];
}
