import type { TargetStatus } from './ports.ts';

/** How many targets may be out at once, and how many must stay healthy. */
export interface CapacityRules {
  readonly maxUnavailable: number;
  readonly minHealthy: number;
}

/** `--max-unavailable`: a count (`2`) or a percentage of the fleet (`25%`, at least 1). */
export type MaxUnavailable = number | `${number}%`;

export function resolveCapacity(fleetSize: number, maxUnavailable: MaxUnavailable, minHealthy?: number): CapacityRules {
  const count = typeof maxUnavailable === 'number'
    ? maxUnavailable
    : Math.max(1, Math.floor((fleetSize * Number(maxUnavailable.slice(0, -1))) / 100));
  return {
    maxUnavailable: Math.max(1, count),
    // An ALB fails open when every target is unhealthy: never drain the last healthy one.
    minHealthy: Math.max(1, minHealthy ?? fleetSize - count),
  };
}

/**
 * Whether `candidate` may be taken out now. Targets that are not healthy already count as
 * unavailable, so taking out one of them costs no capacity; taking out a healthy one must keep
 * both rules.
 */
export function mayTakeOut(candidate: TargetStatus, targets: readonly TargetStatus[], rules: CapacityRules): boolean {
  const healthy = targets.filter((target) => target.state === 'healthy').length;
  const unavailable = targets.length - healthy;
  if (candidate.state !== 'healthy') return true;
  return unavailable + 1 <= rules.maxUnavailable && healthy - 1 >= rules.minHealthy;
}
