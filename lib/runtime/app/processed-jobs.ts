// The example worker's record of the jobs it processed: one row per SQS message id in the
// processed_jobs table (created by lib/runtime/app/migrations/0001_processed_jobs.sql). SQS delivers
// at least once; a redelivered message hits the primary key and writes nothing a second time.
import type { Queryable } from '../schema-journal.ts';
import type { WorkItem } from './work-item.ts';

export interface ProcessedJobs {
  /** Records the job; resolves false when its message id was already recorded (a redelivery). */
  record(messageId: string, job: WorkItem): Promise<boolean>;
}

/** ProcessedJobs over a pg Pool (or any Queryable). */
export function processedJobsTable(db: Queryable): ProcessedJobs {
  return {
    async record(messageId, job) {
      const { rowCount } = await db.query('INSERT INTO processed_jobs (message_id, job_type) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING', [messageId, job.type]);
      return rowCount === 1;
    },
  };
}
