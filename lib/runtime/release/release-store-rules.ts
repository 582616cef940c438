// The rules every release store keeps, whatever it keeps them in: who may take the lock, the order
// the queue, the journal and the history come back in, and the error for a journal left open. The
// DynamoDB store states the lock rule as a condition expression too, because there one conditional
// write decides a race; the file store applies these functions under its mutex.

import { BadInputError, ReleaseError } from './errors.ts';
import type { JournalTarget, LockHolder, LockState, ReleaseRecord } from './ports.ts';

/** startJournal found another release's journal still open: that release must be repaired or finished first. */
export class UnfinishedJournalError extends ReleaseError {
  constructor(readonly unfinished: ReleaseRecord, readonly releaseId: string) {
    super(
      `release ${unfinished.releaseId} (${unfinished.version} by ${unfinished.holder}, started ${new Date(unfinished.startedAt).toISOString()}) ` +
        `left an unfinished journal; repair or finish it before starting release ${releaseId}`,
      'JournalUnfinished',
    );
    this.name = 'UnfinishedJournalError';
  }
}

/** Only the holder fields: callers may pass a LockState or a stored entry with more in it. */
export function pickHolder(holder: LockHolder): LockHolder {
  return { releaseId: holder.releaseId, version: holder.version, holder: holder.holder, requestedAt: holder.requestedAt };
}

/** The lock `holder` holds after acquiring it at `now`. */
export function newLock(holder: LockHolder, ttlMs: number, now: number): LockState {
  return { ...pickHolder(holder), acquiredAt: now, heartbeatAt: now, expiresAt: now + ttlMs };
}

/**
 * Whether `releaseId` may take the lock at `now`: it is free, already ours, or expired. A lock is
 * still alive at the instant it expires; it can be taken over from the millisecond after.
 */
export function mayTakeLock(current: LockState | undefined, releaseId: string, now: number): boolean {
  return current === undefined || current.releaseId === releaseId || current.expiresAt < now;
}

/** The previous holder when taking the lock was a takeover, undefined when it was free or ours. */
export function takenOverFrom(previous: LockState | undefined, releaseId: string): LockState | undefined {
  return previous !== undefined && previous.releaseId !== releaseId ? previous : undefined;
}

/** Journal targets in the order their last step was written (target id breaks ties). */
export function journalTargetsInOrder(targets: Iterable<JournalTarget>): JournalTarget[] {
  return [...targets].sort((a, b) => a.updatedAt - b.updatedAt || a.targetId.localeCompare(b.targetId));
}

/** A queue entry's key: string order is request order, oldest first. */
export function queueSortKey(holder: LockHolder): string {
  return `${sortableTime(holder.requestedAt)}#${holder.releaseId}`;
}

/** A history entry's key: string order is start order (the history lists it backwards, newest first). */
export function historySortKey(release: ReleaseRecord): string {
  return `${sortableTime(release.startedAt)}#${release.releaseId}`;
}

/** Zero-padded so that string order is time order (16 digits last until the year 318,000). */
function sortableTime(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new BadInputError(`a release time must be a non-negative number of ms since the epoch (given ${ms})`);
  return String(Math.trunc(ms)).padStart(16, '0');
}
