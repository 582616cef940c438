// A sandbox whose status changes as a rolling release would, without running one: three targets
// behind HAProxy go through the release journal's steps one after another, while load, queue and
// stream figures keep moving. The status page reads it through its real code path (the server, the
// JSON, the page's script), so a browser test can watch the timeline move in a few seconds.
import type { ReleaseTimelineEntry, SandboxStatus, SandboxStatusSource, SandboxTarget, TargetState } from '../../../lib/runtime/sandbox/sandbox-status.ts';

/** The journal's target steps in the order a release takes them (README, "Releasing"). */
const JOURNAL_STEPS = ['preflight', 'deregistering', 'draining', 'installing', 'verifying', 'registering', 'waiting-healthy', 'baking', 'done'] as const;
type JournalStep = (typeof JOURNAL_STEPS)[number];

/** What HAProxy and the target's health check show while it is at a step. */
const STATE_AT_STEP: Record<JournalStep, { readonly state: TargetState; readonly runs: 'from' | 'to' | 'none' }> = {
  preflight: { state: 'serving', runs: 'from' },
  deregistering: { state: 'draining', runs: 'from' },
  draining: { state: 'draining', runs: 'from' },
  installing: { state: 'stopped', runs: 'none' },
  verifying: { state: 'starting', runs: 'to' },
  registering: { state: 'starting', runs: 'to' },
  'waiting-healthy': { state: 'starting', runs: 'to' },
  baking: { state: 'serving', runs: 'to' },
  done: { state: 'serving', runs: 'to' },
};

export interface RollingReleaseScript {
  readonly targets: readonly { readonly name: string; readonly port: number }[];
  readonly fromVersion: string;
  readonly toVersion: string;
  /** Epoch milliseconds of the first snapshot. */
  readonly startAt: number;
  /** Scripted time between two journal entries. */
  readonly stepMs: number;
  /** Journal entries that become visible together, as a poll of the journal would find them. */
  readonly entriesPerSnapshot: number;
}

/**
 * The snapshots of one release, oldest first: before it starts (no release), each time more of the
 * journal is visible, and after it finished. Each target runs the old version until it is stopped.
 */
export function rollingReleaseSnapshots(script: RollingReleaseScript): SandboxStatus[] {
  const { targets, fromVersion, toVersion, startAt, stepMs, entriesPerSnapshot } = script;
  const journal: { entry: ReleaseTimelineEntry; step?: JournalStep }[] = [{ entry: { at: startAt + stepMs, event: 'release_started', version: toVersion, detail: `${targets.length} targets, one at a time` } }];
  for (const target of targets) {
    for (const step of JOURNAL_STEPS) journal.push({ entry: { at: startAt + (journal.length + 1) * stepMs, event: step, target: target.name, version: toVersion }, step });
  }
  journal.push({ entry: { at: startAt + (journal.length + 1) * stepMs, event: 'release_finished', version: toVersion } });

  const snapshot = (visible: number): SandboxStatus => {
    const shown = journal.slice(0, visible);
    const lastStep = new Map(shown.filter(({ step }) => step).map(({ entry, step }) => [entry.target!, step!]));
    const at = visible === 0 ? startAt : shown.at(-1)!.entry.at;
    return {
      at,
      url: 'http://127.0.0.1:18080/',
      targets: targets.map(({ name, port }): SandboxTarget => {
        const step = lastStep.get(name);
        const { state, runs } = step ? STATE_AT_STEP[step] : { state: 'serving' as const, runs: 'from' as const };
        return runs === 'none' ? { name, port, state } : { name, port, state, version: runs === 'from' ? fromVersion : toVersion };
      }),
      // Steady load that a release must not interrupt, and work that drains as it goes.
      requestsPerSecond: 40 + (visible % 3),
      errorsPerSecond: 0,
      queue: { depth: visible % 5, inFlight: 2, deadLetterDepth: 0 },
      stream: {
        shards: [
          { shardId: 'shardId-000000000000', leaseOwner: 'worker-1', checkpoint: String(49_000 + visible), lagRecords: visible % 4, millisBehindLatest: 0 },
          { shardId: 'shardId-000000000001', leaseOwner: 'worker-2', checkpoint: String(51_000 + visible), lagRecords: 0, millisBehindLatest: 0 },
        ],
      },
      ...(visible === 0
        ? {}
        : { release: { fromVersion, toVersion, state: visible === journal.length ? ('finished' as const) : ('running' as const), timeline: shown.map(({ entry }) => entry) } }),
    };
  };

  const visibleCounts = [0];
  for (let visible = 1; visible < journal.length; visible += entriesPerSnapshot) visibleCounts.push(visible);
  visibleCounts.push(journal.length);
  return visibleCounts.map(snapshot);
}

/**
 * Plays snapshots like a running sandbox: the first until `start()`, then one every `snapshotMs` of
 * real time, then the last for good. `start()` is the "release" a test triggers.
 */
export class ScriptedSandbox implements SandboxStatusSource {
  private startedAt: number | undefined;
  /** How often the status page asked, for tests that check it does not ask more than needed. */
  calls = 0;

  constructor(
    private readonly snapshots: readonly SandboxStatus[],
    private readonly snapshotMs: number,
  ) {
    if (snapshots.length === 0) throw new Error('ScriptedSandbox needs at least one snapshot');
  }

  start(): void {
    this.startedAt ??= Date.now();
  }

  /** When the last snapshot is showing: the release is over. */
  finished(): Promise<void> {
    const remaining = this.startedAt === undefined ? Infinity : this.startedAt + (this.snapshots.length - 1) * this.snapshotMs - Date.now();
    if (remaining === Infinity) return Promise.reject(new Error('the scripted release was never started'));
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, remaining)));
  }

  async snapshot(): Promise<SandboxStatus> {
    this.calls += 1;
    const index = this.startedAt === undefined ? 0 : Math.floor((Date.now() - this.startedAt) / this.snapshotMs);
    return this.snapshots[Math.min(index, this.snapshots.length - 1)]!;
  }
}
