// The app's own queue work: what one message on the work queue asks the app to do. Both consumers
// run this module — the instance worker and the Lambda consumer (lambda/queue-consumer.ts) — so it
// is the one place for the business logic.
//
// REPLACE THIS with the real work. As shipped it is the reason the queue exists: each job is POSTed
// to the stage's external API (`externalApiUrl`, EXTERNAL_API_URL in the environment), with a
// timeout, and any failure throws so that SQS delivers the job again later (with backoff) and, after
// maxReceiveCount deliveries, moves it to the dead-letter queue. Without a URL it only logs the job.
//
// Permanent failures (a 4xx other than 408/429, or a redirect) throw too, rather than dropping the
// job: they are most often this side's mistake — credentials, a wrong URL, a payload the API stopped
// accepting — and would hit every job alike; in the dead-letter queue the jobs wait, intact, for the
// fix and a redrive. The price is maxReceiveCount − 1 repeated calls per such job, and a log line at
// error level (`work_rejected`) tells them from passing trouble.
//
// SQS delivers at least once, so the API may see a job twice: every delivery of one message carries
// the same Idempotency-Key (the message id) for an API that deduplicates. Work that must not happen
// twice on this side goes through `withIdempotency` (queue/idempotency-guard.ts) over a DynamoDB
// table you add. With a database (DATABASE_URL or DATABASE_SECRET_ARN) the worker records each job
// it processed in processed_jobs, keyed by message id, once the work is done: a redelivery writes
// nothing a second time.
import { jsonLogger, type Logger } from '../json-logger.ts';
import type { QueueHandler } from '../queue/queue-message.ts';
import { ExternalApiError, postToExternalApi } from './external-api.ts';
import type { ProcessedJobs } from './processed-jobs.ts';
import { type WorkItem, workItemProblems } from './work-item.ts';

export type { WorkItem } from './work-item.ts';

/** Parses and checks a body (a BodyParser); throwing marks the message unparseable (the handler never sees it). */
export function parseWorkItem(rawBody: string): WorkItem {
  const value: unknown = JSON.parse(rawBody);
  const problems = workItemProblems(value);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return value as WorkItem;
}

export interface WorkHandlerOptions {
  /**
   * Where each job is POSTed: an https URL, or http to a loopback address (a local stand-in).
   * @default - none: the handler only logs each job
   */
  readonly externalApiUrl?: string;
  /**
   * How long one call may take before it counts as failed (and the job is retried).
   * @default 5000 — well inside the Lambda consumer's default 10-second timeout
   */
  readonly timeoutMs?: number;
  /** @default JSON lines on stdout, component `work-handler` */
  readonly logger?: Logger;
  /** Where each processed job is recorded. @default - none: nothing is recorded */
  readonly processedJobs?: ProcessedJobs;
}

/** The default `timeoutMs`. */
const DEFAULT_TIMEOUT_MS = 5_000;

/** Resolve = done (the message is deleted); throw = failed (retried, then the dead-letter queue). */
export function createWorkHandler(options: WorkHandlerOptions = {}): QueueHandler<WorkItem> {
  const logger = options.logger ?? jsonLogger({ component: 'work-handler' });
  const url = options.externalApiUrl === undefined ? undefined : externalApiUrl(options.externalApiUrl);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return async (message, { signal, receiveCount }) => {
    signal.throwIfAborted();
    const fields = { messageId: message.messageId, type: message.body.type, receiveCount };
    if (url === undefined) {
      logger.log('info', 'work_received', fields);
    } else {
      const started = Date.now();
      try {
        const status = await postToExternalApi({ url, body: message.rawBody, idempotencyKey: message.messageId, signal, timeoutMs });
        logger.log('info', 'work_delivered', { ...fields, status, durationMs: Date.now() - started });
      } catch (error) {
        // Retryable failures are logged once, by the consumer, as message_failed.
        if (error instanceof ExternalApiError && !error.retryable) logger.log('error', 'work_rejected', { ...fields, status: error.status, error });
        throw error;
      }
    }
    // After the work: a failure to record throws, and the redelivery repeats the (idempotent) call.
    if (options.processedJobs && !(await options.processedJobs.record(message.messageId, message.body))) {
      logger.log('info', 'work_already_recorded', fields);
    }
  };
}

/** The URL checked: a configuration mistake stops the worker at start, not one job at a time. */
function externalApiUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`externalApiUrl must be an absolute URL (given ${JSON.stringify(text)})`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error(`externalApiUrl must be an https URL; http is allowed only to a loopback address (given ${JSON.stringify(text)})`);
  }
  return url;
}

/** The handler both consumers run, configured from the instance (or function) environment. */
export const handleWork: QueueHandler<WorkItem> = createWorkHandler({ externalApiUrl: process.env.EXTERNAL_API_URL || undefined });
