import { describe, expect, it } from 'vitest';
import { eventsCheck, jobsCheck, leasesCheck, requestsCheck } from '../../../lib/runtime/sandbox/demo-checks.ts';

const put = (key: string, number: number, sequenceNumber: string) => ({ key, number, sequenceNumber });
const processed = (partitionKey: string, sequenceNumber: string) => ({ partitionKey, sequenceNumber });

describe('the demo checks', () => {
  it('no failed request: fails on one failure, and on no traffic at all', () => {
    expect(requestsCheck(500, 0, [])).toEqual({ name: 'no failed HTTP request', ok: true, detail: '500 requests, 0 failed' });
    expect(requestsCheck(500, 1, ['GET /version: HTTP 503: no server'])).toMatchObject({ ok: false, detail: '1 of 500 failed, e.g. GET /version: HTTP 503: no server' });
    expect(requestsCheck(0, 0, []).ok).toBe(false);
  });

  it('jobs: a duplicate is counted, not a fault; a lost job or one in the dead-letter queue fails', () => {
    const delivered = new Map([['m1', 1], ['m2', 2]]);
    expect(jobsCheck(['m1', 'm2'], delivered, 0)).toEqual({
      name: 'every accepted job processed',
      ok: true,
      detail: '2 accepted, 2 processed, 0 lost, 1 processed twice (SQS delivers at least once), 0 in the dead-letter queue',
    });
    expect(jobsCheck(['m1', 'm2', 'm3'], delivered, 0)).toMatchObject({ ok: false, detail: expect.stringContaining('1 lost') });
    expect(jobsCheck(['m1', 'm2', 'm3'], delivered, 0).detail).toMatch(/lost e\.g\. m3$/);
    expect(jobsCheck(['m1'], delivered, 1).ok).toBe(false);
    expect(jobsCheck([], delivered, 0).ok).toBe(false);
  });

  it('events: replays after a crash pass; a missing event or one processed before an earlier one of its key fails', () => {
    const events = [put('a', 1, '10'), put('a', 2, '12'), put('b', 1, '11'), put('a', 3, '14')];
    // Worker 1 processed a#1, b#1, a#2, crashed before checkpointing a#2; worker 2 replays a#2, then a#3.
    const crashAndReplay = [processed('a', '10'), processed('b', '11'), processed('a', '12'), processed('a', '12'), processed('a', '14')];
    expect(eventsCheck(events, crashAndReplay)).toEqual({
      name: 'every event processed in order per key',
      ok: true,
      detail: '4 put over 2 keys, 4 processed, 0 missing, 0 keys out of order, 1 replayed after the crash',
    });
    expect(eventsCheck(events, crashAndReplay.slice(0, 3))).toMatchObject({ ok: false, detail: expect.stringMatching(/1 missing.*missing e\.g\. a#3$/) });
    const swapped = [processed('a', '12'), processed('a', '10'), processed('b', '11'), processed('a', '14')];
    expect(eventsCheck(events, swapped)).toMatchObject({ ok: false, detail: expect.stringMatching(/0 missing, 1 key out of order, .*; out of order: a$/) });
    // Order holds per key only: another key's events may interleave in any way.
    expect(eventsCheck(events, [processed('b', '11'), processed('a', '10'), processed('a', '12'), processed('a', '14')]).ok).toBe(true);
    expect(eventsCheck([], []).ok).toBe(false);
  });

  it('leases: every shard held by a live worker, shares within one; a free lease or a dead owner fails', () => {
    expect(leasesCheck(['w1', 'w2', 'w1', 'w2'], ['w1', 'w2'], 'w0')).toEqual({ name: 'leases rebalanced', ok: true, detail: '4 shards: w1 holds 2, w2 holds 2' });
    expect(leasesCheck(['w1', 'w1', 'w1', 'w2'], ['w1', 'w2'], undefined).ok).toBe(false);
    expect(leasesCheck(['w1', 'w0', 'w1', 'w2'], ['w1', 'w2'], 'w0')).toMatchObject({ ok: false, detail: '4 shards: w1 holds 2, w2 holds 1, 1 free or held by a worker that is gone (the killed w0)' });
    expect(leasesCheck(['w1', undefined, 'w2'], ['w1', 'w2'], undefined).ok).toBe(false);
    expect(leasesCheck(['w1', 'w2', 'w1'], ['w1', 'w2'], undefined).ok).toBe(true);
  });
});
