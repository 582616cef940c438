// Expiry the way KCL judges it: the table holds no expiry time, so each observer remembers when, on
// its own monotonic clock, it last saw a lease's counter change. A lease whose counter has stayed the
// same for one lease duration is expired. No wall-clock times are compared across hosts.
import type { Lease } from './lease.ts';

export class LeaseExpiry {
  private readonly seen = new Map<string, { readonly counter: number; readonly since: number }>();

  constructor(private readonly leaseDurationMs: number) {}

  /**
   * Records a scan made at `now`. A lease seen for the first time counts as just renewed, as in KCL:
   * its owner may be alive, and only a full lease duration without a change proves otherwise.
   */
  observe(leases: readonly Lease[], now: number): void {
    const present = new Set<string>();
    for (const lease of leases) {
      present.add(lease.leaseKey);
      const previous = this.seen.get(lease.leaseKey);
      if (previous?.counter !== lease.leaseCounter) this.seen.set(lease.leaseKey, { counter: lease.leaseCounter, since: now });
    }
    for (const key of this.seen.keys()) if (!present.has(key)) this.seen.delete(key);
  }

  /** True when `lease` (as last scanned) has kept its counter for a lease duration. */
  isExpired(lease: Lease, now: number): boolean {
    const seen = this.seen.get(lease.leaseKey);
    return seen !== undefined && seen.counter === lease.leaseCounter && now - seen.since >= this.leaseDurationMs;
  }

  /** When the first of `leases` not yet expired will expire unless renewed; undefined when none can. */
  nextExpiryAt(leases: readonly Lease[], now: number): number | undefined {
    let next: number | undefined;
    for (const lease of leases) {
      const seen = this.seen.get(lease.leaseKey);
      if (!seen || seen.counter !== lease.leaseCounter) continue;
      const at = seen.since + this.leaseDurationMs;
      if (at > now && (next === undefined || at < next)) next = at;
    }
    return next;
  }
}
