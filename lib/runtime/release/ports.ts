// The ports of the release engine: what it needs from a load balancer, an installer, alarms, the
// release table and the Auto Scaling group. Adapters implement them for AWS (ELBv2, SSM Run Command,
// CloudWatch, DynamoDB, Auto Scaling) and for HAProxy and local processes.

/** Health of one target, in ELBv2's vocabulary (HAProxy states are mapped onto it). */
export type TargetHealthState = 'initial' | 'healthy' | 'unhealthy' | 'unused' | 'draining' | 'unavailable';

export interface TargetStatus {
  /** Instance id (ELBv2) or server name (HAProxy). */
  readonly id: string;
  readonly state: TargetHealthState;
  /** ELBv2 reason code such as `Target.ResponseCodeMismatch`, `Target.NotRegistered`, `Elb.InitialHealthChecking`. */
  readonly reasonCode?: string;
  readonly description?: string;
}

/** How long the pool's own steps take at best, for deadlines and the dry-run budget. */
export interface PoolTimings {
  /** Deregistration delay: a deregistered target stays draining this long. */
  readonly drainMs: number;
  /** Healthy threshold × interval: the soonest a registered target turns healthy. */
  readonly healthyMs: number;
  /** Unhealthy threshold × interval: how long failing checks take to mark a target unhealthy. */
  readonly unhealthyMs: number;
}

/** The load balancer side: which targets serve, and taking one out and back in. */
export interface TargetPool {
  /** Every target that is registered or on its way in or out, with its health. */
  listTargets(signal?: AbortSignal): Promise<TargetStatus[]>;
  timings(signal?: AbortSignal): Promise<PoolTimings>;
  /** Starts draining `targetId`: no new requests; open ones finish within the drain time. */
  deregister(targetId: string, signal?: AbortSignal): Promise<void>;
  /** Resolves once `targetId` no longer receives traffic; throws DeadlineExceededError past drain time + margin. */
  waitDrained(targetId: string, signal?: AbortSignal): Promise<void>;
  register(targetId: string, signal?: AbortSignal): Promise<void>;
  /**
   * Resolves once `targetId` is healthy; throws TargetUnhealthyError (with the reason code) when the
   * load balancer marks it unhealthy, or DeadlineExceededError when it stays `initial` too long.
   */
  waitHealthy(targetId: string, signal?: AbortSignal): Promise<void>;
}

export interface InstallOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface InstallResult {
  /** The version the target's own health check reported at the end of the install, when the installer saw it. */
  readonly reportedVersion?: string;
}

/** Puts a version live on one target (stopping its worker gracefully first). */
export interface Installer {
  /** Throws InstallFailedError carrying the tail of the installer's output. */
  install(targetId: string, version: string, options: InstallOptions): Promise<InstallResult>;
  /** The version the target reports it runs, or undefined when it cannot tell. */
  installedVersion(targetId: string, signal?: AbortSignal): Promise<string | undefined>;
}

/** The alarms a release watches between targets. */
export interface AlarmGate {
  /** Names of watched alarms currently in ALARM (empty when all is well). */
  firingAlarms(signal?: AbortSignal): Promise<string[]>;
}

/**
 * Keeps the Auto Scaling group from replacing or terminating targets while they are out of the load
 * balancer, and makes instances it launches install the version being released.
 */
export interface InstanceGuard {
  /** Idempotent. */
  hold(signal?: AbortSignal): Promise<void>;
  /** Undoes hold(); idempotent; called after success, after failure and after repair. */
  release(signal?: AbortSignal): Promise<void>;
  /** The version newly launched instances install. */
  launchVersion(signal?: AbortSignal): Promise<string | undefined>;
  setLaunchVersion(version: string, signal?: AbortSignal): Promise<void>;
  /** True when the target's instance is terminated or terminating: it will not come back, so it is skipped. */
  isTerminated(targetId: string, signal?: AbortSignal): Promise<boolean>;
}

// --- release table: lock, journal, history ----------------------------------------------------

export interface LockHolder {
  /** Unique per run of the CLI. */
  readonly releaseId: string;
  readonly version: string;
  /** Who: CI job, user@host. */
  readonly holder: string;
  /** When this release was asked for (ms since epoch); orders versions for --supersede. */
  readonly requestedAt: number;
}

export interface LockState extends LockHolder {
  readonly acquiredAt: number;
  readonly heartbeatAt: number;
  /** Past this, with no heartbeat, another release may take the lock over. */
  readonly expiresAt: number;
}

export type LockAttempt =
  | { readonly acquired: true; readonly lock: LockState; /** The previous holder whose lock had expired. */ readonly tookOverFrom?: LockState }
  | { readonly acquired: false; readonly heldBy: LockState };

/** Where a target is in a release; written before each step starts. */
export type TargetStep = 'preflight' | 'deregistering' | 'draining' | 'installing' | 'verifying' | 'registering' | 'waiting-healthy' | 'baking' | 'done';

export interface JournalTarget {
  readonly targetId: string;
  /** The version the target ran before this release touched it. */
  readonly fromVersion: string;
  /** The version being put on it (the release's version, or fromVersion during rollback). */
  readonly toVersion: string;
  readonly step: TargetStep;
  readonly updatedAt: number;
}

export type ReleaseOutcome = 'succeeded' | 'rolled-back' | 'rollback-failed' | 'aborted' | 'superseded';

export interface ReleaseRecord {
  readonly releaseId: string;
  readonly version: string;
  readonly previousVersion: string;
  readonly holder: string;
  readonly requestedAt: number;
  readonly startedAt: number;
  readonly finishedAt?: number;
  readonly outcome?: ReleaseOutcome;
  /** What failed: target, step, reason code. */
  readonly failure?: { readonly targetId?: string; readonly step: string; readonly reasonCode: string; readonly message: string };
  readonly targets?: number;
}

/** The release table: one lock, the journal of the running release, waiting releases, and history. */
export interface ReleaseStore {
  /** Conditional: succeeds when free, or when the holder's lock expired (a takeover). */
  tryAcquireLock(holder: LockHolder, ttlMs: number, now: number): Promise<LockAttempt>;
  /** Extends the lock; throws LockLostError when another release took it over. */
  heartbeat(lock: LockState, ttlMs: number, now: number): Promise<LockState>;
  /** Only if still ours; a no-op otherwise. */
  releaseLock(lock: LockState): Promise<void>;
  readLock(): Promise<LockState | undefined>;

  /** Announces a release waiting for the lock (for --supersede); removed with leaveQueue. */
  joinQueue(holder: LockHolder, now: number, ttlMs: number): Promise<void>;
  leaveQueue(holder: LockHolder): Promise<void>;
  /** Releases waiting now, oldest request first; entries whose waiter stopped refreshing them are left out. */
  listQueue(now: number): Promise<LockHolder[]>;

  /** The journal of the release that holds (or last held) the lock; undefined when none is unfinished. */
  readJournal(): Promise<{ readonly release: ReleaseRecord; readonly targets: JournalTarget[] } | undefined>;
  /** Starts a journal for `release`, replacing a finished one. */
  startJournal(release: ReleaseRecord): Promise<void>;
  recordStep(releaseId: string, target: JournalTarget): Promise<void>;
  /** Closes the journal and appends the release to the history. */
  finishRelease(release: ReleaseRecord): Promise<void>;
  /** Newest first. */
  listHistory(limit: number): Promise<ReleaseRecord[]>;
}

/** Everything a release works with: the AWS stack's adapters, or (HAProxy mode) local services'. */
export interface ReleasePorts {
  readonly pool: TargetPool;
  readonly installer: Installer;
  readonly gate: AlarmGate;
  readonly guard: InstanceGuard;
  readonly store: ReleaseStore;
}

// --- observability: the release marker, the before/after report, the zones --------------------

/** Why a release marker was published: the dashboard overlays all four on the same graphs. */
export type ReleaseMarkerKind = 'start' | 'switch' | 'rollback' | 'end';

export interface ReleaseMarkerEvent {
  readonly kind: ReleaseMarkerKind;
  /** When it happened (ms since epoch): the data point's timestamp. */
  readonly at: number;
  /** The target that switched (kind `switch`). */
  readonly targetId?: string;
}

/** Publishes one data point per release event, for the dashboard's release overlay. */
export interface ReleaseMarker {
  /** Throws when publishing failed after its retries; the engine only warns. */
  publish(event: ReleaseMarkerEvent, signal?: AbortSignal): Promise<void>;
}

/** A span of whole minutes: `startMs` inclusive, `endMs` exclusive, as GetMetricData reads them. */
export interface TimeWindow {
  readonly startMs: number;
  readonly endMs: number;
}

/** The metrics the release report compares. */
export type ReportMetric = 'p99-latency' | '5xx-rate' | 'job-failure-rate';

/** One metric over one window. */
export interface MetricReading {
  /** p99 in milliseconds, or a rate from 0 to 1; undefined without data. */
  readonly value?: number;
  /** One-minute periods in the window that had data. */
  readonly datapoints: number;
  /** What the value is computed from: requests (p99 latency, 5xx rate) or jobs (job failure rate). */
  readonly samples: number;
  /** Set when the metric could not be read (e.g. CloudWatch answered Forbidden for one of its series). */
  readonly problem?: string;
}

export type WindowReadings = Readonly<Record<ReportMetric, MetricReading>>;

/** Reads the report's metrics for the stage over one window. */
export interface ReleaseMetrics {
  read(window: TimeWindow, signal?: AbortSignal): Promise<WindowReadings>;
}

/** Where each target runs, for `--by-zone`. */
export interface ZoneLookup {
  /** Availability Zone per target id; targets it cannot place are left out. */
  zonesOf(targetIds: readonly string[], signal?: AbortSignal): Promise<Map<string, string>>;
}
