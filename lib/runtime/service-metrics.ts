// The metrics writer of one sluice service (web, worker, queue-lambda, stream-lambda): the sluice
// namespace and the two dimensions every metric carries, Stage and Service. The stage comes from
// SLUICE_STAGE, which the stack sets on the instances (/etc/sluice/env) and on both consumer
// functions; a process run by hand without it publishes under Stage `local`, so its numbers never
// mix with a deployed stage's, and says so once.
import { EmbeddedMetrics, type EmbeddedMetricsOptions } from './embedded-metrics.ts';
import type { Logger } from './json-logger.ts';
import { METRIC_NAMESPACE, MetricDimension, type ServiceName } from './metric-contract.ts';
import { STAGE_NAME_PATTERN } from './stack-contract.ts';

/** The environment variable that names the stage (set by the stack). */
export const STAGE_VARIABLE = 'SLUICE_STAGE';

/** The Stage of metrics from a process without SLUICE_STAGE (a laptop, the sandbox, a test). */
export const LOCAL_STAGE = 'local';

export interface ServiceMetricsOptions extends Pick<EmbeddedMetricsOptions, 'flushIntervalMs' | 'clock' | 'write'> {
  readonly service: ServiceName;
  /** Where SLUICE_STAGE is read. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Told once when SLUICE_STAGE is missing, and about dropped values. */
  readonly logger: Logger;
}

/** SLUICE_STAGE is set but is no stage name. */
export class InvalidStageVariableError extends Error {
  constructor(readonly given: string) {
    super(`${STAGE_VARIABLE} must be a stage name: 1 to 20 lower-case letters, digits or "-", starting with a letter (given "${given}"); the stack writes it, so check /etc/sluice/env or the function's environment`);
    this.name = 'InvalidStageVariableError';
  }
}

/** The service's writer; start() and stop() are its owner's (the web app, the worker) or, in Lambda, a flush() per invocation. */
export function serviceMetrics(options: ServiceMetricsOptions): EmbeddedMetrics {
  const given = options.env[STAGE_VARIABLE];
  if (given !== undefined && given !== '' && !STAGE_NAME_PATTERN.test(given)) throw new InvalidStageVariableError(given);
  const stage = given === undefined || given === '' ? LOCAL_STAGE : given;
  if (stage === LOCAL_STAGE && given !== LOCAL_STAGE) {
    options.logger.log('warn', 'metrics.stage_missing', { reason: `${STAGE_VARIABLE} is not set: metrics are published with Stage "${LOCAL_STAGE}"`, service: options.service });
  }
  return new EmbeddedMetrics({
    namespace: METRIC_NAMESPACE,
    dimensions: { [MetricDimension.stage]: stage, [MetricDimension.service]: options.service },
    component: options.service,
    logger: options.logger,
    ...(options.flushIntervalMs !== undefined ? { flushIntervalMs: options.flushIntervalMs } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.write ? { write: options.write } : {}),
  });
}
