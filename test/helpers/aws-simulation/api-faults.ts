import type { ServiceName } from './aws-errors.ts';
import { type Random, seededRandom } from './seeded-random.ts';

export type FaultKind = 'throttle' | 'server-error';

/** Which calls a fault applies to; every call when empty. */
export interface CallFilter {
  readonly services?: readonly ServiceName[];
  /** Operation names without `Command`, e.g. `DescribeTargetHealth`. */
  readonly operations?: readonly string[];
}

export interface ThrottlePlan extends CallFilter {
  /** Share of matching calls that fail, 0–1. */
  readonly fraction: number;
  /** @default 1 */
  readonly seed?: number;
  /** @default 'throttle' */
  readonly kind?: FaultKind;
}

interface PendingFaults {
  remaining: number;
  readonly filter: CallFilter;
  readonly kind: FaultKind;
}

/** Deterministic API-level faults: throttling or server errors on a seeded share or a counted sequence of calls. */
export class ApiFaults {
  private plan?: { readonly plan: ThrottlePlan; readonly random: Random };
  private readonly sequences: PendingFaults[] = [];

  /** Fails a seeded, repeatable share of the matching calls from now on. */
  throttle(plan: ThrottlePlan): void {
    this.plan = { plan, random: seededRandom(plan.seed ?? 1) };
  }

  /** Fails the next `count` matching calls. */
  failNext(count: number, filter: CallFilter = {}, kind: FaultKind = 'throttle'): void {
    this.sequences.push({ remaining: count, filter, kind });
  }

  clear(): void {
    this.plan = undefined;
    this.sequences.length = 0;
  }

  /** The fault to answer this call with, if any. */
  faultFor(service: ServiceName, operation: string): FaultKind | undefined {
    const sequence = this.sequences.find((pending) => pending.remaining > 0 && matches(pending.filter, service, operation));
    if (sequence) {
      sequence.remaining -= 1;
      return sequence.kind;
    }
    if (this.plan && matches(this.plan.plan, service, operation) && this.plan.random() < this.plan.plan.fraction) {
      return this.plan.plan.kind ?? 'throttle';
    }
    return undefined;
  }
}

function matches(filter: CallFilter, service: ServiceName, operation: string): boolean {
  return (!filter.services || filter.services.includes(service)) && (!filter.operations || filter.operations.includes(operation));
}
