// The release table of a local release, in one JSON file: `<stateDir>/release-state.json` holds the
// lock, the waiting queue, the journal of the running (or last) release and the history, with the
// same rules as the DynamoDB table (see release-store-rules.ts and dynamodb-release-store.ts).
//
//   { "format": 1,
//     "lock":    { releaseId, version, holder, requestedAt, acquiredAt, heartbeatAt, expiresAt },
//     "queue":   [{ releaseId, version, holder, requestedAt, expiresAt }, …]   oldest request first
//     "journal": { releaseId, status: "running" | "finished", release, targets: { <id>: JournalTarget } },
//     "history": [ReleaseRecord, …] }                                         newest first
//
// Every change is a read-modify-write under a mutex, `release-state.json.mutex`, created with
// O_EXCL (open 'wx'): of several processes or calls only one holds it, so a write decides a race the
// way DynamoDB's conditional write does. The mutex is held for milliseconds. Its owner may be
// SIGKILLed while holding it; then it is stale and removed: at once when it names a process of this
// PID namespace that is gone, after 10 s when its owner cannot be checked (another namespace sharing
// the directory, or a file cut short). A live owner is never overruled: a caller gives up after
// `mutexWaitMs` and says which process holds it. The state file itself is replaced by rename, so
// readers (which take no mutex) see a whole file, and a killed writer leaves the previous state.
//
// Release times are the `now` arguments, as in the DynamoDB store; the mutex's own waiting and age
// are real time on this machine, because they are about this machine's processes.

import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAbort, LockLostError, ReleaseError } from '../errors.ts';
import type { JournalTarget, LockAttempt, LockHolder, LockState, ReleaseRecord, ReleaseStore } from '../ports.ts';
import {
  historySortKey,
  journalTargetsInOrder,
  mayTakeLock,
  newLock,
  pickHolder,
  queueSortKey,
  takenOverFrom,
  UnfinishedJournalError,
} from '../release-store-rules.ts';
import { pidNamespace, processExists } from './local-process.ts';
import { readFileIfExists, writeFileAtomically } from './state-files.ts';

export interface FileReleaseStoreProps {
  /** The targets file's stateDir; created on the first write. */
  readonly stateDir: string;
  /** How long a change waits for the mutex while another live process holds it. @default 10 seconds */
  readonly mutexWaitMs?: number;
  /** Releases the history keeps (the file is rewritten on every change, so it is bounded). @default 200 */
  readonly historyLimit?: number;
}

/** The release state file is unreadable, corrupt, or its mutex is held; nothing was changed. */
export class ReleaseStateFileError extends ReleaseError {
  constructor(readonly path: string, readonly operation: string, message: string, reasonCode: string, options?: ErrorOptions) {
    super(message, reasonCode, options);
    this.name = 'ReleaseStateFileError';
  }
}

export const RELEASE_STATE_FILE = 'release-state.json';

const FORMAT = 1;
/** A mutex whose owner cannot be checked is taken to be abandoned after this long: changes take milliseconds. */
const STALE_MUTEX_MS = 10_000;
/** Garbage collection of queue entries whose waiter is gone, as the DynamoDB table's TTL margin. */
const QUEUE_GARBAGE_MS = 3_600_000;

interface QueueEntry extends LockHolder {
  readonly expiresAt: number;
}

interface Journal {
  readonly releaseId: string;
  readonly status: 'running' | 'finished';
  readonly release: ReleaseRecord;
  readonly targets: Readonly<Record<string, JournalTarget>>;
}

interface ReleaseState {
  readonly format: typeof FORMAT;
  readonly lock?: LockState;
  readonly queue: readonly QueueEntry[];
  readonly journal?: Journal;
  readonly history: readonly ReleaseRecord[];
}

const EMPTY_STATE: ReleaseState = { format: FORMAT, queue: [], history: [] };

/** This process's PID namespace (Linux), or its host: a mutex owner is only checkable from the same one. */
const OWN_NAMESPACE = pidNamespace();

export class FileReleaseStore implements ReleaseStore {
  readonly path: string;
  private readonly stateDir: string;
  private readonly mutexPath: string;
  private readonly mutexWaitMs: number;
  private readonly historyLimit: number;

  constructor(props: FileReleaseStoreProps) {
    this.stateDir = props.stateDir;
    this.path = join(props.stateDir, RELEASE_STATE_FILE);
    this.mutexPath = `${this.path}.mutex`;
    this.mutexWaitMs = props.mutexWaitMs ?? 10_000;
    this.historyLimit = props.historyLimit ?? 200;
  }

  // --- lock ----------------------------------------------------------------------------------------

  async tryAcquireLock(holder: LockHolder, ttlMs: number, now: number): Promise<LockAttempt> {
    return this.change<LockAttempt>('tryAcquireLock', (state) => {
      if (!mayTakeLock(state.lock, holder.releaseId, now)) return { result: { acquired: false, heldBy: state.lock! } };
      const lock = newLock(holder, ttlMs, now);
      const previous = takenOverFrom(state.lock, holder.releaseId);
      return { state: { ...state, lock }, result: previous ? { acquired: true, lock, tookOverFrom: previous } : { acquired: true, lock } };
    });
  }

  async heartbeat(lock: LockState, ttlMs: number, now: number): Promise<LockState> {
    return this.change('heartbeat', (state) => {
      if (state.lock?.releaseId !== lock.releaseId) throw new LockLostError(lock.releaseId);
      const extended: LockState = { ...lock, heartbeatAt: now, expiresAt: now + ttlMs };
      return { state: { ...state, lock: extended }, result: extended };
    });
  }

  /** A no-op when someone took the lock over (or it is gone): nothing of ours to release. */
  async releaseLock(lock: LockState): Promise<void> {
    await this.change('releaseLock', (state) => {
      if (state.lock?.releaseId !== lock.releaseId) return { result: undefined };
      const { lock: _released, ...rest } = state;
      return { state: rest, result: undefined };
    });
  }

  async readLock(): Promise<LockState | undefined> {
    return (await this.read('readLock')).lock;
  }

  // --- queue ---------------------------------------------------------------------------------------

  async joinQueue(holder: LockHolder, now: number, ttlMs: number): Promise<void> {
    const key = queueSortKey(holder);
    await this.change('joinQueue', (state) => {
      // Joining again with the same holder replaces the entry: that is how a waiter refreshes it.
      const others = state.queue.filter((entry) => queueSortKey(entry) !== key && entry.expiresAt + QUEUE_GARBAGE_MS > now);
      const queue = [...others, { ...pickHolder(holder), expiresAt: now + ttlMs }].sort(byQueueOrder);
      return { state: { ...state, queue }, result: undefined };
    });
  }

  async leaveQueue(holder: LockHolder): Promise<void> {
    const key = queueSortKey(holder);
    await this.change('leaveQueue', (state) => ({ state: { ...state, queue: state.queue.filter((entry) => queueSortKey(entry) !== key) }, result: undefined }));
  }

  async listQueue(now: number): Promise<LockHolder[]> {
    const { queue } = await this.read('listQueue');
    return queue.filter((entry) => entry.expiresAt > now).sort(byQueueOrder).map(pickHolder);
  }

  // --- journal and history -------------------------------------------------------------------------

  async readJournal(): Promise<{ readonly release: ReleaseRecord; readonly targets: JournalTarget[] } | undefined> {
    const { journal } = await this.read('readJournal');
    if (journal?.status !== 'running') return undefined;
    return { release: journal.release, targets: journalTargetsInOrder(Object.values(journal.targets)) };
  }

  async startJournal(release: ReleaseRecord): Promise<void> {
    await this.change('startJournal', (state) => {
      const open = state.journal?.status === 'running' ? state.journal : undefined;
      if (open && open.releaseId !== release.releaseId) throw new UnfinishedJournalError(open.release, release.releaseId);
      // Our own open journal: starting again is a retry and keeps the steps recorded so far.
      const journal: Journal = { releaseId: release.releaseId, status: 'running', release, targets: open?.targets ?? {} };
      return { state: { ...state, journal }, result: undefined };
    });
  }

  async recordStep(releaseId: string, target: JournalTarget): Promise<void> {
    await this.change('recordStep', (state) => {
      const open = state.journal?.status === 'running' ? state.journal : undefined;
      // Another release replaced our journal, which it may only do after taking our lock over.
      if (open && open.releaseId !== releaseId) throw new LockLostError(releaseId);
      if (!open) {
        throw this.failure('recordStep', `release ${releaseId} has no open journal; call startJournal before recording steps`, 'JournalNotStarted');
      }
      const journal: Journal = { ...open, targets: { ...open.targets, [target.targetId]: target } };
      return { state: { ...state, journal }, result: undefined };
    });
  }

  async finishRelease(release: ReleaseRecord): Promise<void> {
    const key = historySortKey(release);
    await this.change('finishRelease', (state) => {
      const history = [release, ...state.history.filter((entry) => historySortKey(entry) !== key)].sort(byHistoryOrder).slice(0, this.historyLimit);
      // Without a journal of ours (never started, e.g. superseded while waiting, or already replaced)
      // the history entry is all there is to write.
      const journal: Journal | undefined = state.journal?.releaseId === release.releaseId ? { ...state.journal, status: 'finished', release } : state.journal;
      return { state: { ...state, history, ...(journal ? { journal } : {}) }, result: undefined };
    });
  }

  async listHistory(limit: number): Promise<ReleaseRecord[]> {
    if (limit <= 0) return [];
    return [...(await this.read('listHistory')).history].sort(byHistoryOrder).slice(0, limit);
  }

  // --- plumbing ------------------------------------------------------------------------------------

  /** Reads the state under the mutex, applies `decide`, and writes the new state if it returned one. */
  private async change<T>(operation: string, decide: (state: ReleaseState) => { state?: ReleaseState; result: T }): Promise<T> {
    return this.withMutex(operation, async () => {
      const { state, result } = decide(await this.read(operation));
      if (state) await this.guard(operation, () => writeFileAtomically(this.path, `${JSON.stringify(state, null, 2)}\n`));
      return result;
    });
  }

  /** The whole state; a missing file is the empty state of a machine that never released. */
  private async read(operation: string): Promise<ReleaseState> {
    const text = await this.guard(operation, () => readFileIfExists(this.path));
    if (text === undefined) return EMPTY_STATE;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw this.corrupt(operation, `it is not valid JSON (${(error as Error).message})`, error);
    }
    const state = parsed as Partial<ReleaseState> | null;
    if (typeof state !== 'object' || state === null || state.format !== FORMAT || !Array.isArray(state.queue) || !Array.isArray(state.history)) {
      throw this.corrupt(operation, `it is not a format-${FORMAT} release state (an object with format, queue and history)`);
    }
    return state as ReleaseState;
  }

  /**
   * The state is not guessed at: an unreadable file may hold the lock of a running release and the
   * journal of an interrupted one, and starting afresh would release over both.
   */
  private corrupt(operation: string, problem: string, cause?: unknown): ReleaseStateFileError {
    return this.failure(
      operation,
      `${problem}. It holds the release lock, the journal of an interrupted release and the history: check that no release is ` +
        `running and every target serves, then move the file aside to start from an empty state`,
      'ReleaseState.Corrupt',
      cause,
    );
  }

  private async withMutex<T>(operation: string, action: () => Promise<T>): Promise<T> {
    const startedAt = performance.now();
    let mutexInode: number | undefined;
    for (;;) {
      mutexInode = await this.guard(operation, () => this.tryCreateMutex());
      if (mutexInode !== undefined) break;
      if (await this.guard(operation, () => this.removeStaleMutex())) continue;
      if (performance.now() - startedAt >= this.mutexWaitMs) {
        const owner = await readFileIfExists(this.mutexPath).catch(() => undefined);
        throw this.failure(
          operation,
          `its mutex ${this.mutexPath} stayed held for ${this.mutexWaitMs} ms (owner: ${owner?.trim() || 'unknown'}); ` +
            'if that process is not a sluice command that is still running, delete the mutex file and rerun',
          'ReleaseState.MutexHeld',
        );
      }
      // Jittered, so that waiting callers do not retry in lock-step.
      await sleep(2 + Math.random() * 8);
    }
    try {
      return await action();
    } finally {
      // Only our own mutex: had it been judged stale (it cannot be while we live), another is there now.
      const current = await stat(this.mutexPath).catch(() => undefined);
      if (current?.ino === mutexInode) await unlink(this.mutexPath).catch(() => undefined);
    }
  }

  /** Creates the mutex and returns its inode, or undefined when another caller holds it. */
  private async tryCreateMutex(): Promise<number | undefined> {
    let handle;
    try {
      handle = await open(this.mutexPath, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // The state directory does not exist yet: the first change creates it.
      await mkdir(this.stateDir, { recursive: true });
      return this.tryCreateMutex();
    }
    try {
      await handle.writeFile(`${process.pid} ${OWN_NAMESPACE}\n`);
      return (await handle.stat()).ino;
    } finally {
      await handle.close();
    }
  }

  /** True when the mutex was abandoned and is now removed (or already gone), so it can be tried again at once. */
  private async removeStaleMutex(): Promise<boolean> {
    const judged = await this.inspectMutex();
    if (judged === undefined) return true;
    const [pidText, namespace] = judged.text.trim().split(' ');
    const pid = Number(pidText);
    const checkable = Number.isInteger(pid) && pid > 0 && namespace === OWN_NAMESPACE;
    const stale = checkable ? !processExists(pid) : Date.now() - judged.mtimeMs > STALE_MUTEX_MS;
    if (!stale) return false;
    // Another waiter may have removed it and created its own meanwhile: remove only the one judged.
    const now = await stat(this.mutexPath).catch(() => undefined);
    if (now?.ino === judged.ino) await unlink(this.mutexPath).catch(() => undefined);
    return true;
  }

  /** The mutex's owner line, inode and age, or undefined when it is gone. */
  private async inspectMutex(): Promise<{ text: string; ino: number; mtimeMs: number } | undefined> {
    try {
      const { ino, mtimeMs } = await stat(this.mutexPath);
      return { text: await readFile(this.mutexPath, 'utf8'), ino, mtimeMs };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** File-system failures become a ReleaseStateFileError that names the file and what to check. */
  private async guard<T>(operation: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (isAbort(error) || error instanceof ReleaseError) throw error;
      const detail = error instanceof Error ? error.message : String(error);
      throw this.failure(operation, `${detail}; check that the stateDir of the local targets file is a writable directory`, 'ReleaseState.IoError', error);
    }
  }

  private failure(operation: string, problem: string, reasonCode: string, cause?: unknown): ReleaseStateFileError {
    return new ReleaseStateFileError(
      this.path,
      operation,
      `${operation} on release state ${this.path} failed: ${problem}`,
      reasonCode,
      cause === undefined ? undefined : { cause },
    );
  }
}

/** The order of the DynamoDB table's sort keys (code units, not locale). */
function byQueueOrder(a: LockHolder, b: LockHolder): number {
  return compareKeys(queueSortKey(a), queueSortKey(b));
}

function byHistoryOrder(a: ReleaseRecord, b: ReleaseRecord): number {
  return compareKeys(historySortKey(b), historySortKey(a));
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
