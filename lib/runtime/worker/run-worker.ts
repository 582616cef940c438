// The worker process's lifecycle: the queue processor and the stream consumer side by side until
// SIGTERM (systemd's stop during a release), then both stop gracefully within one deadline, so
// messages in flight finish or go back and the instance's shards are released for the other
// instances at once. A subsystem that stops by itself (AWS refused it) stops the other too, and the
// process exits non-zero, so systemd restarts it and the failure is visible.
import type { Logger } from '../json-logger.ts';

/** How a subsystem's stop ended; QueueProcessor's and StreamConsumer's summaries both fit. */
export interface ServiceStopSummary {
  /** `requested`: stop() was called; `fatal`: the service stopped itself because AWS refused it. */
  readonly reason: 'requested' | 'fatal';
  readonly error?: Error;
  readonly durationMs: number;
}

/** What the worker needs of a long-running subsystem (QueueProcessor and StreamConsumer both are one). */
export interface WorkerService {
  start(): unknown;
  stop(options: { readonly deadline: number }): Promise<ServiceStopSummary>;
  whenStopped(): Promise<ServiceStopSummary>;
}

export interface NamedWorkerService {
  /** `queue` or `stream`, in the worker's log lines. */
  readonly name: string;
  readonly service: WorkerService;
  /** Logged with `worker.started`, e.g. the queue URL and concurrency. */
  readonly describe?: () => Readonly<Record<string, unknown>>;
}

export interface RunWorkerOptions {
  /** Run side by side; at least one. */
  readonly services: readonly NamedWorkerService[];
  readonly logger: Logger;
  /**
   * Time the work in hand gets after SIGTERM before its signals are aborted: the service manager's
   * stop timeout (systemd TimeoutStopSec) less a margin for the last writes (deletes, checkpoints,
   * lease releases). Every service gets the same deadline, counted from the signal.
   */
  readonly stopDeadlineMs: number;
  /** Where SIGTERM and SIGINT come from. @default process */
  readonly signals?: Pick<NodeJS.Process, 'once' | 'off'>;
}

/**
 * Starts every service and runs until SIGTERM or SIGINT, or until one of them stops by itself;
 * then stops them all with the deadline. Resolves with the process exit code: 0 after a requested
 * stop, 1 when a service stopped fatally (AWS refused it) or failed to start.
 */
export async function runWorker(options: RunWorkerOptions): Promise<number> {
  const { services, logger, stopDeadlineMs, signals = process } = options;
  let stopRequested: { readonly by: string; readonly at: number } | undefined;
  const stopAll = (by: string): void => {
    if (stopRequested) return;
    stopRequested = { by, at: Date.now() };
    for (const { service } of services) void service.stop({ deadline: stopDeadlineMs });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    logger.log('info', 'worker.signal', { signal, deadlineMs: stopDeadlineMs });
    stopAll(signal);
  };
  signals.once('SIGTERM', onSignal);
  signals.once('SIGINT', onSignal);

  const summaries = services.map(({ name, service }) =>
    service.whenStopped().then((summary) => {
      // One that stops by itself takes the others down with it: a worker that half runs hides the failure.
      if (!stopRequested) {
        logger.log(summary.reason === 'fatal' ? 'error' : 'warn', 'worker.service_stopped', { service: name, reason: summary.reason, error: summary.error?.message });
        stopAll(name);
      }
      return { name, summary };
    }),
  );
  let startFailed = false;
  for (const { name, service, describe } of services) {
    try {
      service.start();
      logger.log('info', 'worker.started', { service: name, ...describe?.() });
    } catch (error) {
      startFailed = true;
      logger.log('error', 'worker.start_failed', { service: name, error });
      stopAll(name);
      break;
    }
  }
  // A service that never started resolves whenStopped() once stop() is called on it.
  const settled = await Promise.all(summaries);
  signals.off('SIGTERM', onSignal);
  signals.off('SIGINT', onSignal);
  const fatal = startFailed || settled.some(({ summary }) => summary.reason === 'fatal');
  logger.log(fatal ? 'error' : 'info', 'worker.stopped', {
    stoppedBy: stopRequested?.by,
    durationMs: stopRequested ? Date.now() - stopRequested.at : 0,
    services: Object.fromEntries(settled.map(({ name, summary }) => [name, { reason: summary.reason, error: summary.error?.message, durationMs: summary.durationMs }])),
  });
  return fatal ? 1 : 0;
}
