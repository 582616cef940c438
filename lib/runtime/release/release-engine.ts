import { setMaxListeners } from 'node:events';
import { type CapacityRules, mayTakeOut, resolveCapacity } from './capacity.ts';
import type { Clock } from '../clock.ts';
import {
  AlarmFiringError,
  CapacityError,
  DeadlineExceededError,
  LockLostError,
  ReleaseError,
  SupersededError,
  VersionMismatchError,
} from './errors.ts';
import { formatDuration } from '../duration.ts';
import type { JournalTarget, LockState, ReleaseMarkerKind, ReleaseOutcome, ReleaseRecord, TargetStatus, TargetStep } from './ports.ts';
import { type ReleaseEngineProps, resolveReleaseEngineProps, type ResolvedReleaseEngineProps } from './release-engine-props.ts';
import { acquireReleaseLock, LockHeartbeat } from './release-lock.ts';
import { compareWindows, MetricRegressionError, type ReleaseReport, reportWindows } from './release-report.ts';
import { UNKNOWN_ZONE, type ZoneBatch, zoneBatches } from './zone-batches.ts';
import { TypedEmitter } from '../typed-emitter.ts';

export type { ReleaseEngineProps } from './release-engine-props.ts';
export type { ZoneBatch } from './zone-batches.ts';

export type Direction = 'release' | 'rollback' | 'repair';

export interface StepTiming {
  readonly step: TargetStep;
  readonly startedAt: number;
  readonly durationMs: number;
}

export interface TargetReport {
  readonly targetId: string;
  readonly fromVersion: string;
  readonly toVersion: string;
  readonly direction: Direction;
  readonly steps: StepTiming[];
  readonly outcome: 'done' | 'failed' | 'skipped' | 'gone';
}

export interface ReleaseFailure {
  readonly targetId?: string;
  readonly step: string;
  readonly reasonCode: string;
  readonly message: string;
}

export interface ReleaseResult {
  readonly releaseId: string;
  readonly version: string;
  readonly previousVersion: string;
  readonly outcome: ReleaseOutcome;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly targets: TargetReport[];
  readonly failure?: ReleaseFailure;
  readonly rollbackFailures: ReleaseFailure[];
  readonly supersededBy?: string;
  /** Every before/after report made, in order (one per zone with `zones`). */
  readonly reports?: readonly ReleaseReport[];
  /** With `zones`: the zones in the order they were released. */
  readonly zones?: readonly ZoneBatch[];
}

export interface ReleaseEvents extends Record<string, unknown> {
  'lock-waiting': { readonly holder: string; readonly version: string; readonly expiresAt: number };
  'lock-acquired': { readonly releaseId: string; readonly tookOverFrom?: string };
  plan: {
    readonly version: string;
    readonly previousVersion: string;
    readonly targets: { readonly targetId: string; readonly state: string; readonly version?: string }[];
    readonly toRelease: string[];
    readonly rules: CapacityRules;
    /** With `zones`: the zones in release order. */
    readonly zones?: readonly ZoneBatch[];
  };
  'zone-started': { readonly zone: string; readonly index: number; readonly zoneCount: number; readonly targets: readonly string[] };
  report: ReleaseReport;
  'step-started': { readonly targetId: string; readonly step: TargetStep; readonly direction: Direction; readonly version: string; readonly at: number };
  step: { readonly targetId: string; readonly step: TargetStep; readonly direction: Direction; readonly version: string; readonly startedAt: number; readonly durationMs: number };
  'target-done': { readonly targetId: string; readonly direction: Direction; readonly version: string; readonly durationMs: number };
  'target-gone': { readonly targetId: string; readonly direction: Direction };
  failure: ReleaseFailure;
  rollback: { readonly targets: string[] };
  warning: { readonly message: string };
  finished: ReleaseResult;
}

/** A target being moved, with where it is. */
interface Move {
  /** The release whose journal records this move (a repair writes into the interrupted release's). */
  readonly journalId: string;
  readonly targetId: string;
  readonly fromVersion: string;
  readonly toVersion: string;
  readonly direction: Direction;
  readonly steps: StepTiming[];
  step: TargetStep;
}

function reportOf(move: Move, outcome: TargetReport['outcome']): TargetReport {
  return { targetId: move.targetId, fromVersion: move.fromVersion, toVersion: move.toVersion, direction: move.direction, steps: move.steps, outcome };
}

/** A target that already runs the version: nothing to do. */
function skippedReport(targetId: string, version: string): TargetReport {
  return { targetId, fromVersion: version, toVersion: version, direction: 'release', steps: [], outcome: 'skipped' };
}

/** The target left the fleet (terminated by the group or by hand) while we worked on it. */
class TargetGoneError extends ReleaseError {
  constructor(readonly targetId: string) {
    super(`target ${targetId} left the target group`, 'Target.Gone');
  }
}

/**
 * A killed release sets the launch version to its own before it moves a target. Unless it got every
 * target there, that version was never released: the fleet's previous version is the one the killed
 * release came from. A target whose version could not be read is not known to be there.
 */
function versionBeforeInterruption(
  launchVersion: string,
  interrupted: ReleaseRecord | undefined,
  versions: ReadonlyMap<string, string | undefined>,
): string | undefined {
  if (!interrupted || launchVersion !== interrupted.version || interrupted.previousVersion === 'none') return undefined;
  const everyTargetThere = [...versions.values()].every((installed) => installed === interrupted.version);
  return everyTargetThere ? undefined : interrupted.previousVersion;
}

const stepsInOrder: readonly TargetStep[] = ['preflight', 'deregistering', 'draining', 'installing', 'verifying', 'registering', 'waiting-healthy', 'baking', 'done'];

/** Who runs what before anything changes: the fleet, each target's version, and the targets to move. */
interface ReleasePlan {
  /** The version new instances launch with, as this run found it. */
  readonly launchVersion: string;
  /** The version the fleet ran before: what a rollback goes back to, new instances included. */
  readonly previousVersion: string;
  readonly listed: readonly TargetStatus[];
  readonly versions: ReadonlyMap<string, string | undefined>;
  readonly rules: CapacityRules;
  /** Targets not on the version yet; those already out of service first (moving them costs no capacity). */
  readonly toRelease: readonly string[];
  /** toRelease by zone with `zones`, else one batch of them all; each batch ends with the report. */
  readonly batches: readonly ZoneBatch[];
}

/** A target to move from one version to another. */
interface MoveWork {
  readonly targetId: string;
  readonly fromVersion: string;
  readonly toVersion: string;
}

/** What a batch of moves did: the moves started, a report per target, and every failure in order. */
interface MovesResult {
  readonly moved: Move[];
  readonly reports: TargetReport[];
  readonly failures: ReleaseFailure[];
}

/**
 * The rolling release: one target (or `maxUnavailable` targets) at a time out of the load balancer,
 * drained, installed, verified, registered, healthy, baked and checked against the alarms; on any
 * failure every target already moved goes back to its previous version by the same path. Holds the
 * release lock throughout, journals every step, and repairs what an interrupted run left behind.
 */
export class ReleaseEngine extends TypedEmitter<ReleaseEvents> {
  private readonly props: ResolvedReleaseEngineProps;
  private readonly clock: Clock;
  private readonly controller = new AbortController();
  private readonly releaseId: string;
  private running?: Promise<ReleaseResult>;
  /** Every target of the fleet this run has seen, in or out of the load balancer. */
  private readonly fleet = new Set<string>();
  /** Targets whose instance was terminated: no longer part of the fleet. */
  private readonly gone = new Set<string>();
  /** Release markers being published; awaited before the result. */
  private readonly markers: Promise<void>[] = [];
  private markedStart = false;
  private readonly reports: ReleaseReport[] = [];
  private zonePlan?: readonly ZoneBatch[];
  /** When the first target was about to leave: the before window ends here. */
  private rolloutStartedAt = 0;
  /** When the last target turned healthy on the new version: the after window starts here. */
  private lastSwitchAt?: number;

  constructor(props: ReleaseEngineProps) {
    super();
    this.props = resolveReleaseEngineProps(props);
    this.clock = this.props.clock;
    this.releaseId = this.props.releaseId;
    // Every wait and AWS call of a wave listens on this one signal: dozens at once is normal.
    setMaxListeners(200, this.controller.signal);
  }

  /** Runs the release once; a second call returns the same result. */
  run(): Promise<ReleaseResult> {
    this.running ??= this.execute();
    return this.running;
  }

  /** Stops starting new work and abandons waits; the target in flight is put back in service. Safe to call twice. */
  stop(reason = 'stopped'): void {
    if (!this.controller.signal.aborted) this.controller.abort(new ReleaseError(`release ${reason}`, 'Stopped'));
  }

  // --- the whole run ---------------------------------------------------------------------------

  private async execute(): Promise<ReleaseResult> {
    const { store, clock, version, lockTtlMs } = this.props;
    const startedAt = clock.now();
    const requestedAt = this.props.requestedAt ?? startedAt;
    const holder = { releaseId: this.releaseId, version, holder: this.props.holder, requestedAt };

    let lock: LockState;
    try {
      lock = await acquireReleaseLock({
        store,
        clock,
        holder,
        ttlMs: lockTtlMs,
        waitMs: this.props.lockWaitMs,
        pollMs: this.props.lockPollMs,
        supersede: this.props.supersede,
        signal: this.controller.signal,
        onWaiting: (heldBy) => this.emit('lock-waiting', { holder: heldBy.holder, version: heldBy.version, expiresAt: heldBy.expiresAt }),
        onTakeover: (from) => this.emit('warning', { message: `took over the lock of ${from.holder} (${from.version}), which stopped heartbeating` }),
      });
    } catch (error) {
      if (!(error instanceof SupersededError)) throw error;
      const result = this.result({ version, previousVersion: '', startedAt, outcome: 'superseded', targets: [], rollbackFailures: [], supersededBy: error.by });
      this.emit('finished', result);
      return result;
    }
    this.emit('lock-acquired', { releaseId: this.releaseId });

    const heartbeat = new LockHeartbeat({
      store,
      clock,
      lock,
      ttlMs: lockTtlMs,
      onLost: (error) => this.controller.abort(error),
      onError: (error) => this.emit('warning', { message: `lock heartbeat failed, retrying: ${String(error)}` }),
    });
    try {
      const interrupted = await this.repairInterruptedRelease();
      const result = await this.release(startedAt, requestedAt, interrupted);
      this.emit('finished', result);
      return result;
    } finally {
      await heartbeat.stop();
      await store.releaseLock(heartbeat.current).catch((error) => this.emit('warning', { message: `could not release the lock: ${String(error)}` }));
    }
  }

  /** Plan, check there is capacity to start, move every target, and roll back what moved if any move failed. */
  private async release(startedAt: number, requestedAt: number, interrupted: ReleaseRecord | undefined): Promise<ReleaseResult> {
    const { guard, store, version } = this.props;
    const plan = await this.plan(interrupted);
    if (plan.launchVersion !== plan.previousVersion) await guard.setLaunchVersion(plan.previousVersion, this.controller.signal);
    const record: ReleaseRecord = { releaseId: this.releaseId, version, previousVersion: plan.previousVersion, holder: this.props.holder, requestedAt, startedAt, targets: plan.listed.length };
    const skipped = plan.listed.filter((target) => !plan.toRelease.includes(target.id)).map((target) => skippedReport(target.id, version));
    if (plan.toRelease.length === 0) {
      await guard.setLaunchVersion(version, this.controller.signal);
      await store.startJournal(record);
      return this.finish(record, 'succeeded', skipped, [], undefined);
    }
    this.refuseWithoutSpareCapacity(plan);

    await store.startJournal(record);
    await guard.hold(this.controller.signal);
    const forward = await this.rollForward(plan, skipped);
    const reports = [...skipped, ...forward.reports];
    const [failure] = forward.failures;
    if (!failure) {
      await guard.release();
      return this.finish(record, 'succeeded', reports, [], undefined);
    }
    return this.rollBack(record, forward.moved, reports, failure);
  }

  /** Reads the fleet and each target's version, and decides the order targets go in. */
  private async plan(interrupted: ReleaseRecord | undefined): Promise<ReleasePlan> {
    const { pool, installer, guard, version } = this.props;
    const signal = this.controller.signal;
    const launchVersion = (await guard.launchVersion(signal)) ?? 'none';
    const listed = await pool.listTargets(signal);
    for (const target of listed) this.fleet.add(target.id);
    const versions = new Map(await Promise.all(listed.map(async (target) => [target.id, await installer.installedVersion(target.id, signal).catch(() => undefined)] as const)));
    const previousVersion = versionBeforeInterruption(launchVersion, interrupted, versions) ?? launchVersion;
    const rules = this.capacityRules(listed.length);
    // Targets already out of service go first: moving them costs no capacity.
    const toRelease = listed
      .filter((target) => versions.get(target.id) !== version)
      .sort((a, b) => Number(a.state === 'healthy') - Number(b.state === 'healthy'))
      .map((target) => target.id);
    const batches = this.props.zones ? zoneBatches(toRelease, await this.props.zones.zonesOf(toRelease, signal)) : [{ zone: UNKNOWN_ZONE, targets: toRelease }];
    if (this.props.zones) this.zonePlan = batches;
    this.emit('plan', {
      version,
      previousVersion,
      targets: listed.map((target) => ({ targetId: target.id, state: target.state, version: versions.get(target.id) })),
      toRelease,
      rules,
      ...(this.zonePlan ? { zones: this.zonePlan } : {}),
    });
    return { launchVersion, previousVersion, listed, versions, rules, toRelease, batches };
  }

  /** Fails before changing anything when the only targets to move are healthy and none may leave. */
  private refuseWithoutSpareCapacity({ listed, toRelease, rules }: ReleasePlan): void {
    const healthyNow = listed.filter((target) => target.state === 'healthy').length;
    const onlyHealthyToMove = toRelease.every((id) => listed.find((target) => target.id === id)?.state === 'healthy');
    if (onlyHealthyToMove && healthyNow - 1 < rules.minHealthy) {
      throw new CapacityError(
        `cannot take any of the ${listed.length} target(s) out: ${healthyNow} healthy, and at least ${rules.minHealthy} must stay healthy `
          + '(an ALB fails open when none is); scale the group to at least 2 healthy targets, or lower --min-healthy',
      );
    }
  }

  /** Points new instances at the version, moves the planned targets, then any that joined meanwhile. */
  private async rollForward(plan: ReleasePlan, skipped: readonly TargetReport[]): Promise<MovesResult> {
    const { guard, version } = this.props;
    const signal = this.controller.signal;
    try {
      // New instances launched during the release come up on the new version.
      await guard.setLaunchVersion(version, signal);
    } catch (error) {
      return { moved: [], reports: [], failures: [this.describeFailure(error, undefined)] };
    }
    this.rolloutStartedAt = this.clock.now();
    this.mark('start');
    const moved: Move[] = [];
    const reports: TargetReport[] = [];
    // One batch per zone (or one for the fleet): never two zones in flight, and the report between them.
    for (const [index, batch] of plan.batches.entries()) {
      const batchStartedAt = this.clock.now();
      if (this.zonePlan) this.emit('zone-started', { zone: batch.zone, index, zoneCount: plan.batches.length, targets: batch.targets });
      const planned = await this.moveAll(
        batch.targets.map((targetId) => ({ targetId, fromVersion: plan.versions.get(targetId) ?? plan.previousVersion, toVersion: version })),
        'release',
        signal,
      );
      moved.push(...planned.moved);
      reports.push(...planned.reports);
      if (planned.failures.length > 0) return { moved, reports, failures: planned.failures };
      if (index === plan.batches.length - 1) {
        // Instances the group launched before the new launch version was set are caught here.
        const late = await this.releaseLateArrivals([...skipped, ...reports], signal);
        moved.push(...late.moved);
        reports.push(...late.reports);
        if (late.failures.length > 0) return { moved, reports, failures: late.failures };
      }
      const regression = await this.compareBeforeAndAfter(this.zonePlan ? batch.zone : undefined, batchStartedAt, signal);
      if (regression) return { moved, reports, failures: [regression] };
    }
    return { moved, reports, failures: [] };
  }

  /**
   * The before/after report once the batch's last target has baked: a failure when a metric got
   * worse by more than maxRegressionPercent. Too little data, or metrics that cannot be read, are
   * reported and never fail the release: the alarms still guard it.
   */
  private async compareBeforeAndAfter(zone: string | undefined, batchStartedAt: number, signal: AbortSignal): Promise<ReleaseFailure | undefined> {
    const { metrics, bakeMs, metricsDelayMs, maxRegressionPercent } = this.props;
    const lastSwitchAt = this.lastSwitchAt;
    if (!metrics || lastSwitchAt === undefined || lastSwitchAt < batchStartedAt) return undefined;
    const which = zone === undefined ? '' : ` for zone ${zone}`;
    const windows = reportWindows(this.rolloutStartedAt, lastSwitchAt, lastSwitchAt + bakeMs);
    if (!windows) {
      this.emit('warning', { message: `no release report${which}: the bake (${formatDuration(bakeMs)}) holds no whole minute after the last switch; use --bake 3m or longer` });
      return undefined;
    }
    try {
      const readAt = windows.after.endMs + metricsDelayMs;
      if (readAt > this.clock.now()) await this.clock.sleep(readAt - this.clock.now(), signal);
      const [before, after] = await Promise.all([metrics.read(windows.before, signal), metrics.read(windows.after, signal)]);
      const report = compareWindows(windows, before, after, { maxRegressionPercent, minimums: this.props.reportMinimums, zone });
      this.reports.push(report);
      this.emit('report', report);
      if (!report.regressed) return undefined;
      const error = new MetricRegressionError(report);
      return { step: 'report', reasonCode: error.reasonCode, message: error.message };
    } catch (error) {
      if (signal.aborted) return this.describeFailure(signal.reason, undefined);
      this.emit('warning', { message: `no release report${which}: ${error instanceof Error ? error.message : String(error)}` });
      return undefined;
    }
  }

  /** Publishes a release marker without holding the release up; a failure is a warning. */
  private mark(kind: ReleaseMarkerKind, targetId?: string): void {
    const { marker } = this.props;
    if (!marker) return;
    if (kind === 'start') this.markedStart = true;
    const event = { kind, at: this.clock.now(), ...(targetId === undefined ? {} : { targetId }) };
    this.markers.push(marker.publish(event).catch((error: unknown) => {
      this.emit('warning', { message: `could not publish the ${kind} release marker (the release goes on): ${error instanceof Error ? error.message : String(error)}` });
    }));
  }

  /**
   * The same careful path back. Lock lost: another release owns the fleet now and repairs from the
   * journal, so nothing is touched. Stopped: finished targets keep the new version, the ones in flight
   * go back. Failed: every moved target goes back.
   */
  private async rollBack(record: ReleaseRecord, moved: readonly Move[], reports: readonly TargetReport[], failure: ReleaseFailure): Promise<ReleaseResult> {
    const { guard } = this.props;
    this.emit('failure', failure);
    const stopReason: unknown = this.controller.signal.reason;
    const lockLost = stopReason instanceof LockLostError;
    const stopped = stopReason instanceof ReleaseError && stopReason.reasonCode === 'Stopped';
    // A move still at preflight never left the load balancer.
    const toRollBack = lockLost
      ? []
      : moved.filter((move) => move.step !== 'preflight' && !this.gone.has(move.targetId) && !(stopped && move.step === 'done'));
    this.emit('rollback', { targets: toRollBack.map((move) => move.targetId) });
    if (this.markedStart && toRollBack.length > 0) this.mark('rollback');
    const rollbackReports: TargetReport[] = [];
    const rollbackFailures: ReleaseFailure[] = [];
    // A fresh signal: the release's own may be aborted, and the rollback must still run to the end.
    const rollbackSignal = new AbortController().signal;
    try {
      if (!lockLost && !stopped) await guard.setLaunchVersion(record.previousVersion, rollbackSignal);
      const back = await this.moveAll(
        toRollBack.map((move) => ({ targetId: move.targetId, fromVersion: move.toVersion, toVersion: move.fromVersion })),
        'rollback',
        rollbackSignal,
        { continueOnFailure: true, skipAlarms: true },
      );
      rollbackReports.push(...back.reports);
      rollbackFailures.push(...back.failures);
    } catch (error) {
      rollbackFailures.push(this.describeFailure(error, undefined));
    } finally {
      if (!lockLost) await guard.release().catch((error) => rollbackFailures.push(this.describeFailure(error, undefined)));
    }
    const outcome: ReleaseOutcome = rollbackFailures.length > 0 ? 'rollback-failed' : stopped || lockLost ? 'aborted' : 'rolled-back';
    return this.finish(record, outcome, [...reports, ...rollbackReports], rollbackFailures, failure);
  }

  /** Targets that joined the group during the release and do not run the new version yet. */
  private async releaseLateArrivals(handledReports: readonly TargetReport[], signal: AbortSignal): Promise<MovesResult> {
    const { pool, installer, version } = this.props;
    const handled = new Set(handledReports.map((report) => report.targetId));
    const reports: TargetReport[] = [];
    const late: MoveWork[] = [];
    try {
      const listed = await pool.listTargets(signal);
      for (const target of listed.filter((candidate) => !handled.has(candidate.id))) {
        const installed = await installer.installedVersion(target.id, signal).catch(() => undefined);
        if (installed === version) reports.push(skippedReport(target.id, version));
        else late.push({ targetId: target.id, fromVersion: installed ?? 'none', toVersion: version });
      }
    } catch (error) {
      return { moved: [], reports, failures: [this.describeFailure(error, undefined)] };
    }
    if (late.length === 0) return { moved: [], reports, failures: [] };
    const moves = await this.moveAll(late, 'release', signal);
    return { ...moves, reports: [...reports, ...moves.reports] };
  }

  // --- moving targets under the capacity rules -------------------------------------------------

  /**
   * Moves every target of `work`, as many at once as the capacity rules allow. Stops starting new
   * moves after the first failure (unless `continueOnFailure`) or an abort, and always lets the moves
   * in flight finish before it returns.
   */
  private async moveAll(
    work: readonly MoveWork[],
    direction: Direction,
    signal: AbortSignal,
    options: { readonly continueOnFailure?: boolean; readonly skipAlarms?: boolean } = {},
  ): Promise<MovesResult> {
    const queue = [...work];
    const inFlight = new Map<string, Promise<void>>();
    const moved: Move[] = [];
    const reports: TargetReport[] = [];
    const failures: ReleaseFailure[] = [];
    let waitingSince: number | undefined;

    const start = (item: MoveWork) => {
      this.fleet.add(item.targetId);
      const move: Move = { ...item, journalId: this.releaseId, direction, steps: [], step: 'preflight' };
      moved.push(move);
      const startedAt = this.clock.now();
      const task = this.moveOne(move, signal, options.skipAlarms ?? false)
        .then(() => {
          reports.push(reportOf(move, 'done'));
          this.emit('target-done', { targetId: move.targetId, direction, version: move.toVersion, durationMs: this.clock.now() - startedAt });
        })
        .catch((error: unknown) => {
          if (error instanceof TargetGoneError) {
            this.gone.add(move.targetId);
            reports.push(reportOf(move, 'gone'));
            this.emit('target-gone', { targetId: move.targetId, direction });
            return;
          }
          reports.push(reportOf(move, 'failed'));
          failures.push(this.describeFailure(error, move));
        })
        .finally(() => inFlight.delete(move.targetId));
      inFlight.set(move.targetId, task);
    };
    // Stop starting; let the targets already out come back before deciding what next.
    const settle = async (failure?: ReleaseFailure): Promise<MovesResult> => {
      if (failure) failures.push(failure);
      await Promise.all(inFlight.values());
      return { moved, reports, failures };
    };

    try {
      while (queue.length > 0 || inFlight.size > 0) {
        if (failures.length > 0 && !options.continueOnFailure) return settle();
        if (signal.aborted) {
          await settle();
          // The abort is the failure only if no move failed on its way back.
          if (failures.length === 0) failures.push(this.describeFailure(signal.reason, undefined));
          return { moved, reports, failures };
        }
        const view = await this.fleetView(signal);
        // The fleet can shrink (an instance terminated) or grow mid-release: the rules follow it.
        const rules = this.capacityRules(view.length);
        let started = false;
        while (queue.length > 0 && inFlight.size < rules.maxUnavailable) {
          const index = queue.findIndex((item) => {
            const status = view.find((target) => target.id === item.targetId);
            return status === undefined || mayTakeOut(status, view, rules);
          });
          if (index < 0) break;
          const [item] = queue.splice(index, 1);
          const status = view.find((target) => target.id === item.targetId);
          if (status === undefined && direction === 'release' && (await this.props.guard.isTerminated(item.targetId, signal).catch(() => false))) {
            this.gone.add(item.targetId);
            // Gone from the target group before we touched it (terminated); nothing to move.
            reports.push({ ...item, direction, steps: [], outcome: 'gone' });
            this.emit('target-gone', { targetId: item.targetId, direction });
            continue;
          }
          start(item);
          // Count it as out for the next decision in this round.
          const self = view.find((target) => target.id === item.targetId);
          if (self) view.splice(view.indexOf(self), 1, { ...self, state: 'draining' });
          started = true;
        }
        if (started || inFlight.size > 0) {
          waitingSince = undefined;
          await Promise.race(inFlight.values());
          continue;
        }
        // Nothing may start and nothing is running: wait for capacity to come back, bounded.
        waitingSince ??= this.clock.now();
        if (this.clock.now() - waitingSince >= this.props.capacityWaitMs) {
          const healthy = view.filter((target) => target.state === 'healthy').length;
          return settle(this.describeFailure(
            new CapacityError(`only ${healthy} of ${view.length} targets are healthy; taking another out would go below ${rules.minHealthy} healthy or above ${rules.maxUnavailable} unavailable`),
            undefined,
          ));
        }
        await this.clock.sleep(5_000, signal).catch(() => undefined);
      }
      return { moved, reports, failures };
    } catch (error) {
      // The fleet could not be read (or anything unexpected): like a failed move, it stops the release.
      return settle(this.describeFailure(error, undefined));
    }
  }

  private capacityRules(fleetSize: number): CapacityRules {
    return resolveCapacity(fleetSize, this.props.maxUnavailable, this.props.minHealthy);
  }

  /**
   * Listed targets plus the ones we hold out of the group (they count as unavailable), less the ones
   * whose instance is stopped or terminated: they are no capacity the release could take away.
   */
  private async fleetView(signal: AbortSignal): Promise<TargetStatus[]> {
    const listed = (await this.props.pool.listTargets(signal)).filter((target) => target.reasonCode !== 'Target.InvalidState' && !this.gone.has(target.id));
    for (const target of listed) this.fleet.add(target.id);
    // Fleet targets the load balancer does not list are out of it (deregistered by us): unavailable.
    const out = [...this.fleet].filter((id) => !this.gone.has(id) && !listed.some((target) => target.id === id));
    return [...listed, ...out.map((id): TargetStatus => ({ id, state: 'unused' }))];
  }

  // --- one target ------------------------------------------------------------------------------

  private async moveOne(move: Move, signal: AbortSignal, skipAlarms: boolean): Promise<void> {
    const { pool, installer, gate } = this.props;
    const { targetId, toVersion } = move;
    const status = (await pool.listTargets(signal)).find((target) => target.id === targetId);
    let inService = status !== undefined && status.state !== 'draining' && status.state !== 'unused';
    // A rollback target that never got the new version only needs to be in service again.
    const installed = move.direction === 'release' ? undefined : await installer.installedVersion(targetId, signal).catch(() => undefined);
    if (installed === toVersion && status?.state === 'healthy') {
      await this.journal(move, 'done');
      return;
    }
    try {
      if (move.direction === 'release') {
        await this.step(move, 'preflight', async () => {
          const firing = await gate.firingAlarms(signal);
          if (firing.length > 0) throw new AlarmFiringError(firing);
        });
      }
      if (inService) {
        await this.step(move, 'deregistering', () => pool.deregister(targetId, signal));
        inService = false;
      }
      if (status !== undefined) await this.step(move, 'draining', () => pool.waitDrained(targetId, signal));
      if (installed !== toVersion) {
        let reportedVersion: string | undefined;
        await this.step(move, 'installing', async () => {
          ({ reportedVersion } = await installer.install(targetId, toVersion, { timeoutMs: this.props.installTimeoutMs, signal }));
        });
        await this.step(move, 'verifying', async () => {
          const reported = reportedVersion ?? (await installer.installedVersion(targetId, signal));
          if (reported !== toVersion) throw new VersionMismatchError(targetId, toVersion, reported);
        });
      }
      await this.step(move, 'registering', () => pool.register(targetId, signal));
      inService = true;
      await this.step(move, 'waiting-healthy', () => pool.waitHealthy(targetId, signal));
      if (this.props.bakeMs > 0) await this.step(move, 'baking', () => this.clock.sleep(this.props.bakeMs, signal));
      if (!skipAlarms) {
        const firing = await gate.firingAlarms(signal);
        if (firing.length > 0) throw new AlarmFiringError(firing);
      }
      await this.journal(move, 'done');
    } catch (error) {
      if (await this.props.guard.isTerminated(targetId).catch(() => false)) throw new TargetGoneError(targetId);
      // A rollback never leaves a target out of the load balancer, whatever version it ended on.
      if (!inService && move.direction !== 'release') await pool.register(targetId).catch(() => undefined);
      throw error;
    }
  }

  private async step(move: Move, step: TargetStep, action: () => Promise<void>): Promise<void> {
    await this.journal(move, step);
    const startedAt = this.clock.now();
    this.emit('step-started', { targetId: move.targetId, step, direction: move.direction, version: move.toVersion, at: startedAt });
    try {
      await action();
    } finally {
      // A failed step is part of the target's timeline too: the summary marks it, and its time counts.
      move.steps.push({ step, startedAt, durationMs: this.clock.now() - startedAt });
    }
    const { durationMs } = move.steps[move.steps.length - 1];
    // Healthy again: from here the load balancer sends it traffic on its new version.
    if (step === 'waiting-healthy' && move.direction !== 'repair') {
      if (move.direction === 'release') this.lastSwitchAt = this.clock.now();
      this.mark('switch', move.targetId);
    }
    this.emit('step', { targetId: move.targetId, step, direction: move.direction, version: move.toVersion, startedAt, durationMs });
  }

  /** Records where the move is, in memory and in the journal, before that step starts. */
  private journal(move: Move, step: TargetStep): Promise<void> {
    move.step = step;
    const entry: JournalTarget = { targetId: move.targetId, fromVersion: move.fromVersion, toVersion: move.toVersion, step, updatedAt: this.clock.now() };
    return this.props.store.recordStep(move.journalId, entry);
  }

  // --- repair after an interrupted run ---------------------------------------------------------

  /**
   * A previous run was killed with targets out of service or half-installed: put each back on the
   * version it was going to (or, failing that, the one it came from), registered and healthy,
   * before this release starts. Returns the interrupted release: its previous version may still be
   * the fleet's (see versionBeforeInterruption).
   */
  private async repairInterruptedRelease(): Promise<ReleaseRecord | undefined> {
    const { store, guard, installer, pool } = this.props;
    const journal = await store.readJournal();
    if (!journal) return undefined;
    const unfinished = journal.targets.filter((target) => target.step !== 'done');
    this.emit('warning', { message: `release ${journal.release.version} (${journal.release.releaseId}) was interrupted; repairing ${unfinished.length} target(s)` });
    const signal = this.controller.signal;
    const failures: ReleaseFailure[] = [];
    for (const target of unfinished) {
      const move: Move = {
        journalId: journal.release.releaseId,
        targetId: target.targetId,
        fromVersion: target.fromVersion,
        toVersion: target.toVersion,
        direction: 'repair',
        steps: [],
        step: target.step,
      };
      try {
        const installed = await installer.installedVersion(target.targetId, signal).catch(() => undefined);
        const listed = (await pool.listTargets(signal)).find((status) => status.id === target.targetId);
        if (listed?.state === 'healthy' && (installed === target.toVersion || installed === target.fromVersion)) continue;
        if (stepsInOrder.indexOf(target.step) >= stepsInOrder.indexOf('installing') && installed !== target.toVersion && installed !== target.fromVersion) {
          await this.step(move, 'installing', async () => {
            await installer.install(target.targetId, target.toVersion, { timeoutMs: this.props.installTimeoutMs, signal });
          });
        }
        if (listed === undefined || listed.state === 'draining' || listed.state === 'unused') {
          await this.step(move, 'registering', () => pool.register(target.targetId, signal));
        }
        await this.step(move, 'waiting-healthy', () => pool.waitHealthy(target.targetId, signal));
        await this.journal(move, 'done');
      } catch (error) {
        if (await guard.isTerminated(target.targetId).catch(() => false)) continue;
        failures.push(this.describeFailure(error, move));
      }
    }
    await guard.release(signal);
    await store.finishRelease({ ...journal.release, finishedAt: this.clock.now(), outcome: 'aborted' });
    if (failures.length > 0) {
      const [first] = failures;
      throw new ReleaseError(`could not repair what an interrupted release left: ${first.message}; fix target ${first.targetId} by hand, then rerun`, first.reasonCode);
    }
    return journal.release;
  }

  // --- results ---------------------------------------------------------------------------------

  private async finish(record: ReleaseRecord, outcome: ReleaseOutcome, targets: TargetReport[], rollbackFailures: ReleaseFailure[], failure: ReleaseFailure | undefined): Promise<ReleaseResult> {
    const finishedAt = this.clock.now();
    await this.props.store.finishRelease({ ...record, finishedAt, outcome, failure });
    if (this.markedStart) this.mark('end');
    await Promise.all(this.markers);
    return this.result({ version: record.version, previousVersion: record.previousVersion, startedAt: record.startedAt, outcome, targets, rollbackFailures, failure });
  }

  private result(fields: Omit<ReleaseResult, 'releaseId' | 'finishedAt'>): ReleaseResult {
    return {
      releaseId: this.releaseId,
      finishedAt: this.clock.now(),
      ...fields,
      ...(this.reports.length > 0 ? { reports: [...this.reports] } : {}),
      ...(this.zonePlan ? { zones: this.zonePlan } : {}),
    };
  }

  private describeFailure(error: unknown, move: Move | undefined): ReleaseFailure {
    const reasonCode = error instanceof ReleaseError ? error.reasonCode : error instanceof Error ? error.name : 'Unknown';
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof LockLostError) return { step: 'lock', reasonCode, message };
    if (error instanceof DeadlineExceededError) return { targetId: error.targetId, step: error.step, reasonCode, message };
    return { targetId: move?.targetId, step: move?.step ?? 'release', reasonCode, message };
  }
}
