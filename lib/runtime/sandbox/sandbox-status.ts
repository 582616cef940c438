// What the sandbox reports about itself: `sluice sandbox status` prints it, the status page draws
// it. One shape for both, so the page and the command cannot disagree about what is running.

export type TargetState = 'serving' | 'draining' | 'stopped' | 'starting' | 'down';

export interface SandboxTarget {
  /** The HAProxy server name, e.g. `app1`. */
  readonly name: string;
  readonly port: number;
  /** The version its health check reports, undefined while it answers none. */
  readonly version?: string;
  readonly state: TargetState;
}

export interface SandboxShard {
  readonly shardId: string;
  /** The worker holding its lease, undefined when none does. */
  readonly leaseOwner?: string;
  readonly checkpoint?: string;
  /** Records put but not yet checkpointed (or MillisBehindLatest-based lag), as the status command computes it. */
  readonly lagRecords?: number;
  readonly millisBehindLatest?: number;
}

/** One step of the current (or last) release, in the order it happened. */
export interface ReleaseTimelineEntry {
  /** Epoch milliseconds. */
  readonly at: number;
  /** e.g. `release_started`, `target_draining`, `target_switched`, `release_finished`, `rolled_back`. */
  readonly event: string;
  readonly target?: string;
  readonly version?: string;
  readonly detail?: string;
}

export interface SandboxStatus {
  /** Epoch milliseconds when the snapshot was taken. */
  readonly at: number;
  /** The URL a person sends requests to (HAProxy's frontend). */
  readonly url: string;
  readonly targets: readonly SandboxTarget[];
  /** Requests per second over the last few seconds, and failed (5xx or connection error) ones. */
  readonly requestsPerSecond: number;
  readonly errorsPerSecond: number;
  readonly queue: { readonly depth: number; readonly inFlight: number; readonly deadLetterDepth: number };
  readonly stream: { readonly shards: readonly SandboxShard[] };
  readonly release?: { readonly fromVersion?: string; readonly toVersion: string; readonly state: 'running' | 'finished' | 'rolled-back' | 'failed'; readonly timeline: readonly ReleaseTimelineEntry[] };
}

/** Where the status page and `sluice sandbox status` get their snapshot: a running sandbox, or a scripted one in a test. */
export interface SandboxStatusSource {
  snapshot(): Promise<SandboxStatus>;
}
