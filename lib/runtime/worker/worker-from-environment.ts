// The worker as bin/worker.ts runs it: what runs comes from the environment (readWorkerEnvironment),
// the AWS clients from the SDK's default chain (instance role, region, AWS_ENDPOINT_URL_* overrides),
// and the app's queue handler and stream processor run in the queue processor and stream consumer,
// side by side until SIGTERM (runWorker). Their job and stream metrics go out as embedded-metric-
// format lines (Service worker, Stage from SLUICE_STAGE), the last of them written after the stop.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { EmbeddedMetrics } from '../embedded-metrics.ts';
import type { Logger } from '../json-logger.ts';
import { createKinesisClient } from '../kinesis-client.ts';
import type { BodyParser, QueueHandler } from '../queue/queue-message.ts';
import { QueueProcessor } from '../queue/queue-processor.ts';
import type { QueueProcessorOptions } from '../queue/queue-processor-options.ts';
import { serviceMetrics } from '../service-metrics.ts';
import { StreamConsumer } from '../stream/stream-consumer.ts';
import type { StreamConsumerOptions } from '../stream/stream-consumer-options.ts';
import type { RecordProcessor } from '../stream/stream-record.ts';
import { publishQueueMetrics } from './queue-processor-metrics.ts';
import { type NamedWorkerService, runWorker } from './run-worker.ts';
import { publishStreamMetrics } from './stream-consumer-metrics.ts';
import { readWorkerEnvironment, type WorkerSettings } from './worker-environment.ts';

/** The app's code that the worker runs. */
export interface WorkerApp<Body> {
  readonly queue: { readonly handler: QueueHandler<Body>; readonly parse?: BodyParser<Body> };
  readonly stream: { readonly processor: RecordProcessor };
}

export interface WorkerFromEnvironmentOptions<Body> {
  readonly logger: Logger;
  /** The stream consumer's log. @default - its own JSON lines, component `stream-consumer` */
  readonly streamLogger?: Logger;
  /** Where SIGTERM and SIGINT come from. @default process */
  readonly signals?: Pick<NodeJS.Process, 'once' | 'off'>;
  /** The job and stream metrics' writer; started with the services, stopped (flushed) after them. @default - Service worker, Stage from SLUICE_STAGE, on standard output */
  readonly metrics?: EmbeddedMetrics;
  /** Settings beyond the environment's, for tests (short waits and leases). @default - the processor's defaults */
  readonly queueOptions?: Partial<Omit<QueueProcessorOptions<Body>, 'sqs' | 'queueUrl' | 'handler' | 'parse' | 'logger'>>;
  /** @default - the consumer's defaults: 10 s leases, scans every second, checkpoints at most every 10 s */
  readonly streamOptions?: Partial<Omit<StreamConsumerOptions, 'kinesis' | 'dynamodb' | 'streamName' | 'leaseTableName' | 'processor' | 'failureQueue' | 'logger'>>;
}

/** Runs the worker the environment describes; resolves with the process exit code (0 idle or stopped, 1 failed). */
export async function runWorkerFromEnvironment<Body>(
  env: Readonly<Record<string, string | undefined>>,
  app: WorkerApp<Body>,
  options: WorkerFromEnvironmentOptions<Body>,
): Promise<number> {
  const { logger } = options;
  let settings: WorkerSettings;
  let services: NamedWorkerService[];
  let metrics: EmbeddedMetrics;
  try {
    settings = readWorkerEnvironment(env);
    if (settings.queue === undefined && settings.stream === undefined) return idle(logger);
    metrics = options.metrics ?? serviceMetrics({ service: 'worker', env, logger });
    services = createServices(settings, env, app, options, metrics);
  } catch (error) {
    // Bad settings are a deployment's mistake: fail loudly (systemd shows it) rather than half run.
    logger.log('error', 'worker.invalid_settings', { error: (error as Error).message });
    return 1;
  }
  if (settings.stream && !settings.stream.failureQueueUrl) {
    logger.log('warn', 'worker.no_failure_queue', { reason: 'STREAM_FAILURE_QUEUE_URL is not set: a record that keeps failing holds up its shard until it succeeds' });
  }
  metrics.start();
  try {
    return await runWorker({ services, logger, stopDeadlineMs: settings.stopDeadlineMs, ...(options.signals ? { signals: options.signals } : {}) });
  } finally {
    await metrics.stop();
  }
}

/**
 * Both the queue and the stream are consumed by Lambda: nothing to do here, and exiting 0 keeps
 * systemd (Restart=on-failure) from restarting the worker.
 */
function idle(logger: Logger): number {
  logger.log('info', 'worker.idle', { reason: 'neither QUEUE_URL nor STREAM_NAME is set in /etc/sluice/env: this stage consumes the queue and the stream with Lambda' });
  return 0;
}

function createServices<Body>(
  settings: WorkerSettings,
  env: Readonly<Record<string, string | undefined>>,
  app: WorkerApp<Body>,
  options: WorkerFromEnvironmentOptions<Body>,
  metrics: EmbeddedMetrics,
): NamedWorkerService[] {
  const services: NamedWorkerService[] = [];
  const needsSqs = settings.queue !== undefined || settings.stream?.failureQueueUrl !== undefined;
  const sqs = needsSqs ? new SQSClient({}) : undefined;
  if (settings.queue) {
    const processor = new QueueProcessor<Body>({
      visibilityTimeoutSeconds: settings.queue.visibilityTimeoutSeconds,
      ...options.queueOptions,
      sqs: sqs!,
      queueUrl: settings.queue.queueUrl,
      handler: app.queue.handler,
      ...(app.queue.parse ? { parse: app.queue.parse } : {}),
      concurrency: settings.queue.concurrency,
      stopDeadlineMs: settings.stopDeadlineMs,
      logger: options.logger,
    });
    publishQueueMetrics(processor, metrics);
    services.push({ name: 'queue', service: processor, describe: () => ({ queueUrl: settings.queue!.queueUrl, concurrency: processor.concurrency }) });
  }
  if (settings.stream) {
    const { streamName, checkpointTableName, failureQueueUrl } = settings.stream;
    const consumer = new StreamConsumer({
      stopDeadlineMs: settings.stopDeadlineMs,
      ...options.streamOptions,
      kinesis: createKinesisClient(env),
      dynamodb: new DynamoDBClient({}),
      streamName,
      leaseTableName: checkpointTableName,
      processor: app.stream.processor,
      ...(failureQueueUrl !== undefined ? { failureQueue: { sqs: sqs!, queueUrl: failureQueueUrl } } : {}),
      ...(options.streamLogger ? { logger: options.streamLogger } : {}),
    });
    publishStreamMetrics(consumer, metrics);
    services.push({ name: 'stream', service: consumer, describe: () => ({ streamName, checkpointTableName, workerId: consumer.workerId, failureQueue: failureQueueUrl ?? null }) });
  }
  return services;
}
