// One runner at a time per database: a session-level PostgreSQL advisory lock, held on the runner's
// own connection from before it reads the journal until it is done, so a second runner (another
// deploy, a developer's `sluice migrate up`) waits and then finds nothing left to apply. If the
// runner dies, its connection closes and PostgreSQL releases the lock. The wait is bounded: the
// lock is tried (pg_try_advisory_lock) until the timeout, and a runner that gives up names the holder.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Queryable } from '../schema-journal.ts';
import { MigrationLockTimeoutError } from './errors.ts';

/** "sluice" in ASCII: the lock key, the same for every sluice runner and no other application's. */
export const MIGRATION_LOCK_KEY = '126909663503205';

export interface MigrationLockOptions {
  /** How long to wait for another runner. */
  readonly timeoutMs: number;
  /** @default 200 milliseconds — one cheap query per try */
  readonly pollIntervalMs?: number;
}

export async function acquireMigrationLock(db: Queryable, options: MigrationLockOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const { rows } = await db.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [MIGRATION_LOCK_KEY]);
    if (rows[0]?.locked) return;
    if (Date.now() >= deadline) throw new MigrationLockTimeoutError(options.timeoutMs, await lockHolder(db));
    await sleep(Math.min(options.pollIntervalMs ?? 200, Math.max(0, deadline - Date.now())));
  }
}

export async function releaseMigrationLock(db: Queryable): Promise<void> {
  await db.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
}

/** Who holds the lock, as pg_stat_activity shows it (a bigint key is classid = high 32 bits, objid = low 32, objsubid 1). */
async function lockHolder(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ pid: number; application_name: string; client_addr: string | null; backend_start: Date }>(
    `SELECT a.pid, a.application_name, a.client_addr::text AS client_addr, a.backend_start
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid`,
    [MIGRATION_LOCK_KEY],
  );
  const holder = rows[0];
  if (!holder) return 'its holder has just released it';
  return `held by backend ${holder.pid}${holder.application_name ? ` "${holder.application_name}"` : ''}${holder.client_addr ? ` from ${holder.client_addr}` : ''}, connected since ${holder.backend_start.toISOString()}`;
}
