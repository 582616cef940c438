import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '../json-logger.ts';
import type { QueueHandler } from './queue-message.ts';
import { QueueProcessor } from './queue-processor.ts';
import type { QueueProcessorOptions } from './queue-processor-options.ts';

export interface WorkerOptions<Body> extends Omit<QueueProcessorOptions<Body>, 'sqs' | 'queueUrl' | 'handler' | 'logger'> {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly handler: QueueHandler<Body>;
  readonly logger: Logger;
  /**
   * Time running handlers get after SIGTERM before their signals are aborted: the service manager's
   * stop timeout (systemd TimeoutStopSec) less a margin for the last SQS calls.
   */
  readonly stopDeadlineMs: number;
  /** Where SIGTERM and SIGINT come from. @default process */
  readonly signals?: Pick<NodeJS.Process, 'once' | 'off'>;
}

/**
 * Runs the queue worker until SIGTERM or SIGINT, then stops it gracefully: nothing new starts,
 * unstarted messages go back to the queue at once, running handlers finish until the deadline.
 * Resolves with the process exit code: 0 after a requested stop, 1 when SQS refused the worker.
 */
export async function runWorker<Body>(options: WorkerOptions<Body>): Promise<number> {
  const { signals = process, stopDeadlineMs, logger, ...processorOptions } = options;
  const processor = new QueueProcessor<Body>({ ...processorOptions, logger });
  const onSignal = (signal: NodeJS.Signals) => {
    logger.log('info', 'worker.signal', { signal, deadlineMs: stopDeadlineMs });
    void processor.stop({ deadline: stopDeadlineMs });
  };
  signals.once('SIGTERM', onSignal);
  signals.once('SIGINT', onSignal);
  processor.start();
  logger.log('info', 'worker.started', { queueUrl: options.queueUrl, concurrency: processor.concurrency });
  const summary = await processor.whenStopped();
  signals.off('SIGTERM', onSignal);
  signals.off('SIGINT', onSignal);
  logger.log(summary.reason === 'fatal' ? 'error' : 'info', 'worker.stopped', {
    reason: summary.reason,
    error: summary.error?.message,
    finishedInTime: summary.finishedInTime,
    returnedUnstarted: summary.returnedUnstarted,
    abortedAtDeadline: summary.abortedAtDeadline,
    durationMs: summary.durationMs,
  });
  return summary.reason === 'fatal' ? 1 : 0;
}
