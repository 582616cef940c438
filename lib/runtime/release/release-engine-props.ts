// The release engine's props and their defaults, applied once when the engine is built.
import { randomUUID } from 'node:crypto';
import type { MaxUnavailable } from './capacity.ts';
import type { Clock } from '../clock.ts';
import type { ReleaseMarker, ReleaseMetrics, ReleasePorts, ZoneLookup } from './ports.ts';
import type { ReportMinimums } from './release-report.ts';

export interface ReleaseEngineProps extends ReleasePorts {
  readonly clock: Clock;
  /** The version to put on every target. */
  readonly version: string;
  /** Who runs the release (CI job, user@host), shown to anyone waiting for the lock. */
  readonly holder: string;
  /**
   * Targets out of the load balancer at once: a count or a percentage of the fleet.
   * @default 1
   */
  readonly maxUnavailable?: MaxUnavailable;
  /**
   * Healthy targets that must remain while one is out.
   * @default - fleet size minus maxUnavailable, and never fewer than 1
   */
  readonly minHealthy?: number;
  /**
   * Time a target serves on the new version before the alarms are checked. Alarms judge whole
   * periods of a metric (each of the release gate's children needs at least two bad minutes), so
   * without a bake that long the last target's check can pass before its harm shows.
   * @default 0 — the alarms are checked as soon as the target is healthy
   */
  readonly bakeMs?: number;
  /**
   * How long one install (download, graceful stop, switch, start, local health check) may take.
   * @default 10 minutes
   */
  readonly installTimeoutMs?: number;
  /**
   * How long the lock stays ours without a heartbeat.
   * @default 60 seconds — a killed release's lock can be taken over this long after its last heartbeat
   */
  readonly lockTtlMs?: number;
  /**
   * How long to wait for another release to free the lock before giving up.
   * @default 15 minutes
   */
  readonly lockWaitMs?: number;
  /**
   * How often a waiting release asks for the lock again.
   * @default 5 seconds
   */
  readonly lockPollMs?: number;
  /**
   * How long to wait for capacity (e.g. a target elsewhere turning healthy) before failing.
   * @default 5 minutes
   */
  readonly capacityWaitMs?: number;
  /**
   * Give up, changing nothing, as soon as a newer version is waiting, running or released.
   * @default false — wait for the lock whatever the other release's version
   */
  readonly supersede?: boolean;
  /**
   * When the release was asked for; orders versions for `supersede`.
   * @default - when run() is called
   */
  readonly requestedAt?: number;
  /**
   * Names this release in the journal, the lock and the history.
   * @default - a random UUID
   */
  readonly releaseId?: string;
  /**
   * Publishes a release marker when the rollout starts, when each target switches (release or
   * rollback), when a rollback starts and when the release ends. A failed publish is a warning.
   * @default - no markers (HAProxy mode)
   */
  readonly marker?: ReleaseMarker;
  /**
   * Reads the metrics of the before/after report, made after the bake of the last target (and,
   * with `zones`, of each zone's last target). Needs a bake that holds a whole minute.
   * @default - no report
   */
  readonly metrics?: ReleaseMetrics;
  /**
   * With `metrics`: fail and roll back when a metric got worse by more than this percentage.
   * @default - the report only informs
   */
  readonly maxRegressionPercent?: number;
  /** How much data a window needs before a metric is judged. @default - see ReportMinimums */
  readonly reportMinimums?: ReportMinimums;
  /**
   * How long after the report's window ends before it is read: the app's metrics reach CloudWatch
   * through its logs, and a minute's datapoint can be queried only some seconds after it closes.
   * @default 60 seconds
   */
  readonly metricsDelayMs?: number;
  /**
   * Release one Availability Zone at a time (zones in name order, targets without a known zone
   * last), with the report between zones: a bad version is caught while the other zones serve the old one.
   * @default - the whole fleet as one
   */
  readonly zones?: ZoneLookup;
}

/** ReleaseEngineProps with every default applied. */
export interface ResolvedReleaseEngineProps extends ReleasePorts {
  readonly clock: Clock;
  readonly version: string;
  readonly holder: string;
  readonly maxUnavailable: MaxUnavailable;
  /** Undefined: derived from the fleet size each time the rules are resolved (the fleet can change). */
  readonly minHealthy: number | undefined;
  readonly bakeMs: number;
  readonly installTimeoutMs: number;
  readonly lockTtlMs: number;
  readonly lockWaitMs: number;
  readonly lockPollMs: number;
  readonly capacityWaitMs: number;
  readonly supersede: boolean;
  /** Undefined: the time run() is called. */
  readonly requestedAt: number | undefined;
  readonly releaseId: string;
  readonly marker: ReleaseMarker | undefined;
  readonly metrics: ReleaseMetrics | undefined;
  readonly maxRegressionPercent: number | undefined;
  readonly reportMinimums: ReportMinimums | undefined;
  readonly metricsDelayMs: number;
  readonly zones: ZoneLookup | undefined;
}

export function resolveReleaseEngineProps(props: ReleaseEngineProps): ResolvedReleaseEngineProps {
  return {
    pool: props.pool,
    installer: props.installer,
    gate: props.gate,
    store: props.store,
    guard: props.guard,
    clock: props.clock,
    version: props.version,
    holder: props.holder,
    maxUnavailable: props.maxUnavailable ?? 1,
    minHealthy: props.minHealthy,
    bakeMs: props.bakeMs ?? 0,
    installTimeoutMs: props.installTimeoutMs ?? 10 * 60_000,
    lockTtlMs: props.lockTtlMs ?? 60_000,
    lockWaitMs: props.lockWaitMs ?? 15 * 60_000,
    lockPollMs: props.lockPollMs ?? 5_000,
    capacityWaitMs: props.capacityWaitMs ?? 5 * 60_000,
    supersede: props.supersede ?? false,
    requestedAt: props.requestedAt,
    releaseId: props.releaseId ?? randomUUID(),
    marker: props.marker,
    metrics: props.metrics,
    maxRegressionPercent: props.maxRegressionPercent,
    reportMinimums: props.reportMinimums,
    metricsDelayMs: props.metricsDelayMs ?? 60_000,
    zones: props.zones,
  };
}
