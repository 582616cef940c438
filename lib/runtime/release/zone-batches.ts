// `--by-zone`: the targets to release, grouped by Availability Zone in the order they go.

/** The targets of one Availability Zone, released together (`--by-zone`). */
export interface ZoneBatch {
  readonly zone: string;
  readonly targets: readonly string[];
}

/** What a target whose zone Auto Scaling does not know is grouped under; such targets go last. */
export const UNKNOWN_ZONE = '(zone unknown)';

/**
 * Zones in name order (the dry run's order is the release's), a zone nobody knows last; inside a
 * zone the targets keep their order (those already out of service first).
 */
export function zoneBatches(toRelease: readonly string[], zoneOf: ReadonlyMap<string, string>): ZoneBatch[] {
  const zoneFor = (id: string) => zoneOf.get(id) ?? UNKNOWN_ZONE;
  const zones = [...new Set(toRelease.map(zoneFor))].sort((a, b) => Number(a === UNKNOWN_ZONE) - Number(b === UNKNOWN_ZONE) || a.localeCompare(b));
  return zones.map((zone) => ({ zone, targets: toRelease.filter((id) => zoneFor(id) === zone) }));
}
