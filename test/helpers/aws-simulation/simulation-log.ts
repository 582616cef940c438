import type { TargetHealthState } from '../../../lib/runtime/release/ports.ts';
import type { VirtualClock } from '../virtual-clock.ts';

export type SimulationEventKind = 'instance' | 'target' | 'auto-scaling' | 'parameter' | 'alarm' | 'command' | 'cloudformation';

/** One state change of the simulated AWS account, at its virtual time. */
export interface SimulationEvent {
  readonly at: number;
  readonly kind: SimulationEventKind;
  /** Instance id, process name, parameter or alarm name, command id. */
  readonly subject: string;
  readonly description: string;
}

export interface InstanceSnapshot {
  readonly id: string;
  readonly availabilityZone: string;
  readonly version: string | undefined;
  /** EC2 state running (false once terminated). */
  readonly running: boolean;
  /** The web app's process answers (false while an install restarts it, while booting, once terminated). */
  readonly appUp: boolean;
  /** The app answers its health check with 200 (up, and not a bad version). */
  readonly appHealthy: boolean;
  /** Auto Scaling lifecycle state: Pending, InService, Terminating, Terminated. */
  readonly lifecycle: string;
}

export interface TargetSnapshot {
  readonly id: string;
  readonly state: TargetHealthState;
  readonly reasonCode?: string;
}

/** The whole simulated account at one moment, as invariants see it. */
export interface SimulationSnapshot {
  readonly at: number;
  readonly instances: readonly InstanceSnapshot[];
  /** Targets the group lists: registered, draining or unused (terminated but not yet removed). */
  readonly targets: readonly TargetSnapshot[];
  readonly suspendedProcesses: readonly string[];
  /** The raw current-version parameter (`none` before the first release). */
  readonly launchVersion: string | undefined;
  readonly firingAlarms: readonly string[];
}

/** Returns a description of what is wrong, or undefined when the invariant holds. */
export type InvariantCheck = (snapshot: SimulationSnapshot) => string | undefined;

export interface InvariantViolation {
  readonly at: number;
  readonly invariant: string;
  readonly description: string;
  /** The change after which the invariant stopped holding. */
  readonly after?: SimulationEvent;
}

interface RegisteredInvariant {
  readonly name: string;
  readonly check: InvariantCheck;
  violated: boolean;
}

/**
 * The record of every state change, and the invariants checked after each one. Changes made together
 * (inside `change`) are checked once, at the end, so an atomic change never shows a half-done state.
 * A violation is recorded when an invariant starts failing, not again for every change while it fails.
 */
export class SimulationLog {
  readonly events: SimulationEvent[] = [];
  readonly violations: InvariantViolation[] = [];
  private readonly invariants: RegisteredInvariant[] = [];
  private readonly settleHooks: Array<() => void> = [];
  private depth = 0;
  private pending = false;

  constructor(
    private readonly clock: VirtualClock,
    private readonly snapshot: () => SimulationSnapshot,
  ) {}

  record(kind: SimulationEventKind, subject: string, description: string): void {
    this.events.push({ at: this.clock.now(), kind, subject, description });
    this.pending = true;
    if (this.depth === 0) this.settle();
  }

  /** Runs `mutate` as one atomic change. */
  change<T>(mutate: () => T): T {
    this.depth += 1;
    try {
      return mutate();
    } finally {
      this.depth -= 1;
      if (this.depth === 0 && this.pending) this.settle();
    }
  }

  /** Schedules `mutate` at virtual time `at` as one atomic change; returns a cancel function. */
  at(at: number, mutate: () => void): () => void {
    return this.clock.at(at, () => this.change(mutate));
  }

  /** Derived state (e.g. alarms that follow what the fleet serves) is brought up to date before invariants run. */
  onSettle(hook: () => void): void {
    this.settleHooks.push(hook);
  }

  addInvariant(name: string, check: InvariantCheck): void {
    this.invariants.push({ name, check, violated: false });
    this.checkInvariants();
  }

  private settle(): void {
    this.depth += 1;
    try {
      for (const hook of this.settleHooks) hook();
    } finally {
      this.depth -= 1;
      this.pending = false;
    }
    this.checkInvariants();
  }

  private checkInvariants(): void {
    if (this.invariants.length === 0) return;
    const snapshot = this.snapshot();
    for (const invariant of this.invariants) {
      const problem = invariant.check(snapshot);
      if (problem !== undefined && !invariant.violated) {
        this.violations.push({ at: snapshot.at, invariant: invariant.name, description: problem, after: this.events.at(-1) });
      }
      invariant.violated = problem !== undefined;
    }
  }
}
