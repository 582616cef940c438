import type { AppTierSettings } from '../constructs/app-tier/app-tier.ts';
import type { DatabaseSettings } from '../constructs/database/database.ts';
import type { EventStreamSettings } from '../constructs/event-stream/event-stream.ts';
import type { FeatureFlagsSettings } from '../constructs/feature-flags/feature-flags.ts';
import type { LogGroupSettings } from '../constructs/log-groups/log-group-settings.ts';
import type { MonitoringSettings } from '../constructs/monitoring/monitoring.ts';
import type { ReleaseResourcesSettings } from '../constructs/release-resources/release-resources.ts';
import type { WebFirewallSettings } from '../constructs/web-firewall/web-firewall.ts';
import type { WorkQueueSettings } from '../constructs/work-queue/work-queue.ts';
import { formatProblems } from '../runtime/problems.ts';

/**
 * Everything that differs between stages. Each setting belongs to one construct, whose props
 * document its default; a stage sets only what it changes. Setting names are unique across
 * constructs, so an error or a `-c name=value` override names exactly one.
 */
export interface StageConfig
  extends AppTierSettings, WorkQueueSettings, EventStreamSettings, MonitoringSettings, ReleaseResourcesSettings, LogGroupSettings, DatabaseSettings, FeatureFlagsSettings, WebFirewallSettings {
  /** Lower-case name; the stack is `sluice-<stageName>`. */
  readonly stageName: string;
  /**
   * Protect stateful resources: deletion protection on the load balancer, the tables and the
   * database, the tables kept (RETAIN) and the database snapshotted when the stack is deleted.
   * Buckets are always kept.
   */
  readonly protectData: boolean;
  /**
   * What consumes the work queue: the worker on the instances, a Lambda function (partial batch
   * responses), or both.
   * @default 'instances'
   */
  readonly queueConsumer?: QueueConsumer;
  /**
   * What reads the event stream: the worker on the instances (StreamConsumer, leases in the
   * checkpoint table), a Lambda function (Kinesis event source, partial batch responses), or both.
   * A stream is a log, not a queue: with `both` each of them reads every record (a way to move from
   * one to the other), and the two share the shards' read throughput.
   * @default 'instances'
   */
  readonly streamConsumer?: StreamConsumer;
  /**
   * The external HTTP API the example work handler (lib/runtime/app/work-handler.ts) POSTs each job
   * to, from the instance worker and the Lambda consumer alike (as EXTERNAL_API_URL). An https URL,
   * printable ASCII, without credentials: it is written into the instances' user data in plain text.
   * @default - none: the work handler only logs each job
   */
  readonly externalApiUrl?: string;
}

/** Who consumes the work queue or reads the event stream. */
export const consumerKinds = ['instances', 'lambda', 'both'] as const;
export type QueueConsumer = (typeof consumerKinds)[number];
export type StreamConsumer = (typeof consumerKinds)[number];

/** Thrown when the chosen stage does not exist or its settings cannot be deployed; lists every problem. */
export class StageConfigError extends Error {
  constructor(readonly stage: string, readonly problems: readonly string[], message?: string) {
    super(message ?? `Invalid configuration for stage "${stage}":\n${formatProblems(problems)}`);
    this.name = 'StageConfigError';
  }

  static unknownStage(stage: string, known: readonly string[]): StageConfigError {
    const problem = `stage must be one of ${known.join(', ')} (given "${stage}")`;
    return new StageConfigError(stage, [problem], `Unknown stage "${stage}". Known stages: ${known.join(', ')}. Choose one with -c stage=NAME.`);
  }
}
