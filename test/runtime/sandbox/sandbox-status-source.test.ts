import { describe, expect, it } from 'vitest';
import type { JournalTarget, ReleaseRecord } from '../../../lib/runtime/release/ports.ts';
import { ReleaseTimeline, targetState } from '../../../lib/runtime/sandbox/sandbox-status-source.ts';

const release: ReleaseRecord = { releaseId: 'r1', version: 'v2', previousVersion: 'v1', holder: 'ann@laptop', requestedAt: 1_000, startedAt: 1_100 };
const step = (targetId: string, name: JournalTarget['step'], updatedAt: number, toVersion = 'v2'): JournalTarget => ({ targetId, fromVersion: 'v1', toVersion, step: name, updatedAt });

describe('the release timeline', () => {
  it('adds an entry for each step it sees a target take, once, and the outcome once the release is in the history', () => {
    const timeline = new ReleaseTimeline();
    expect(timeline.observe(undefined, undefined)).toBeUndefined();
    const first = timeline.observe({ release, targets: [step('app1', 'draining', 1_200)] }, undefined)!;
    expect(first).toMatchObject({ fromVersion: 'v1', toVersion: 'v2', state: 'running' });
    expect(first.timeline.map((entry) => entry.event)).toEqual(['release_started', 'target_draining']);
    expect(first.timeline[0]).toEqual({ at: 1_100, event: 'release_started', version: 'v2', detail: 'from v1 by ann@laptop' });
    // The same step seen again adds nothing; a new step of the same target, and another target, do.
    timeline.observe({ release, targets: [step('app1', 'draining', 1_200)] }, undefined);
    const later = timeline.observe({ release, targets: [step('app1', 'done', 1_500), step('app2', 'waiting-healthy', 1_700)] }, undefined)!;
    expect(later.timeline.map((entry) => [entry.event, entry.target])).toEqual([
      ['release_started', undefined],
      ['target_draining', 'app1'],
      ['target_done', 'app1'],
      ['target_waiting_healthy', 'app2'],
    ]);
    const finished = timeline.observe(undefined, { ...release, finishedAt: 2_000, outcome: 'succeeded' })!;
    expect(finished.state).toBe('finished');
    expect(finished.timeline.at(-1)).toEqual({ at: 2_000, event: 'release_finished', version: 'v2' });
    expect(timeline.observe(undefined, { ...release, finishedAt: 2_000, outcome: 'succeeded' })!.timeline).toHaveLength(5);
  });

  it('a rollback is told apart, with where it failed; a new release starts a new timeline', () => {
    const timeline = new ReleaseTimeline();
    timeline.observe({ release, targets: [step('app1', 'installing', 1_200)] }, undefined);
    const rolledBack = timeline.observe(undefined, { ...release, finishedAt: 3_000, outcome: 'rolled-back', failure: { targetId: 'app1', step: 'waiting-healthy', reasonCode: 'Install.NeverHealthy', message: 'no answer' } })!;
    expect(rolledBack.state).toBe('rolled-back');
    expect(rolledBack.timeline.at(-1)).toEqual({ at: 3_000, event: 'rolled_back', version: 'v2', detail: 'Install.NeverHealthy at waiting-healthy on app1' });
    const next = timeline.observe({ release: { ...release, releaseId: 'r2', version: 'v3', previousVersion: 'v1', startedAt: 4_000 }, targets: [step('app1', 'draining', 4_100, 'v3')] }, undefined)!;
    expect(next.timeline.map((entry) => entry.event)).toEqual(['release_started', 'target_draining']);
    expect(next.toVersion).toBe('v3');
  });
});

describe('a target\'s state from HAProxy\'s view', () => {
  it('serving when UP, draining while it still has sessions, then stopped or starting by its health check', () => {
    expect(targetState({ status: 'UP', scur: 3 }, true)).toBe('serving');
    expect(targetState({ status: 'UP 1/2', scur: 0 }, true)).toBe('serving');
    expect(targetState({ status: 'DRAIN', scur: 1 }, true)).toBe('draining');
    expect(targetState({ status: 'MAINT', scur: 2 }, true)).toBe('draining');
    expect(targetState({ status: 'MAINT', scur: 0 }, false)).toBe('stopped');
    expect(targetState({ status: 'MAINT', scur: 0 }, true)).toBe('starting');
    expect(targetState({ status: 'DOWN', scur: 0 }, false)).toBe('down');
    expect(targetState({ status: 'DOWN 1/2', scur: 0 }, true)).toBe('starting');
  });
});
