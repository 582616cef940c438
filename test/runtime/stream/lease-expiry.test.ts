// Expiry as KCL judges it: a counter unchanged for one lease duration on the observer's own clock.
import { describe, expect, it } from 'vitest';
import type { Lease } from '../../../lib/runtime/stream/lease.ts';
import { LeaseExpiry } from '../../../lib/runtime/stream/lease-expiry.ts';

const lease = (leaseKey: string, leaseCounter: number): Lease => ({
  leaseKey,
  leaseOwner: 'someone',
  leaseCounter,
  checkpoint: { sequenceNumber: 'TRIM_HORIZON', subSequenceNumber: 0 },
  ownerSwitchesSinceCheckpoint: 0,
  parentShardIds: [],
  childShardIds: [],
});

describe('LeaseExpiry', () => {
  it('counts a lease first seen as just renewed, and as expired once its counter stayed the same for the lease duration', () => {
    const expiry = new LeaseExpiry(10_000);
    expiry.observe([lease('a', 7)], 50_000);
    expect(expiry.isExpired(lease('a', 7), 59_999)).toBe(false);
    expect(expiry.isExpired(lease('a', 7), 60_000)).toBe(true);
  });

  it('restarts the wait whenever the counter changes, whatever the wall clock of the writer says', () => {
    const expiry = new LeaseExpiry(10_000);
    expiry.observe([lease('a', 1)], 0);
    expiry.observe([lease('a', 2)], 9_000);
    expect(expiry.isExpired(lease('a', 2), 18_999)).toBe(false);
    expect(expiry.isExpired(lease('a', 2), 19_000)).toBe(true);
    // A scan that sees the same counter again does not restart it.
    expiry.observe([lease('a', 2)], 15_000);
    expect(expiry.isExpired(lease('a', 2), 19_000)).toBe(true);
  });

  it('says when the next watched lease expires, and forgets leases that are gone', () => {
    const expiry = new LeaseExpiry(10_000);
    expiry.observe([lease('a', 1), lease('b', 1)], 0);
    expiry.observe([lease('a', 2), lease('b', 1)], 4_000);
    expect(expiry.nextExpiryAt([lease('a', 2), lease('b', 1)], 5_000)).toBe(10_000);
    expect(expiry.nextExpiryAt([lease('a', 2), lease('b', 1)], 10_000)).toBe(14_000);
    expiry.observe([lease('b', 1)], 11_000);
    expect(expiry.isExpired(lease('a', 2), 30_000)).toBe(false);
  });
});
