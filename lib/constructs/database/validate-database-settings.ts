import { SettingsProblems } from '../settings-validation.ts';
import type { DatabaseSettings } from './database.ts';
import { DATABASE_DEFAULTS } from './database-defaults.ts';

/** Every problem with the database's settings; the ranges are RDS's limits for PostgreSQL on gp3 storage. */
export function validateDatabaseSettings(settings: DatabaseSettings): string[] {
  const check = new SettingsProblems();
  check.matches(
    'databaseInstanceType',
    settings.databaseInstanceType,
    /^[a-z][a-z0-9-]*\.[a-z0-9]+$/,
    'an RDS instance class without the "db." prefix, such as t4g.micro or m7g.large',
  );
  check.wholeNumber('databaseAllocatedStorage', settings.databaseAllocatedStorage, 20, 65_536, 'GiB');
  check.wholeNumber('databaseMaxAllocatedStorage', settings.databaseMaxAllocatedStorage, 21, 65_536, 'GiB');
  const allocated = settings.databaseAllocatedStorage ?? DATABASE_DEFAULTS.databaseAllocatedStorage;
  const maxAllocated = settings.databaseMaxAllocatedStorage ?? DATABASE_DEFAULTS.databaseMaxAllocatedStorage;
  // RDS refuses a storage-autoscaling limit at or below the allocated storage.
  if (Number.isInteger(allocated) && Number.isInteger(maxAllocated) && maxAllocated <= allocated) {
    check.add(`databaseMaxAllocatedStorage must be more than databaseAllocatedStorage (${allocated} GiB) for storage autoscaling (given ${maxAllocated})`);
  }
  // Zero would switch automated backups (and point-in-time recovery) off; RDS keeps at most 35 days.
  const retention = settings.databaseBackupRetention;
  if (retention !== undefined && !retention.isUnresolved()) {
    const days = retention.toDays({ integral: false });
    check.check(Number.isInteger(days) && days >= 1 && days <= 35, `databaseBackupRetention must be a whole number of days between 1 and 35 (given ${days} days)`);
  }
  check.numberInRange('databaseCpuThreshold', settings.databaseCpuThreshold, 1, 100, 'percent');
  check.numberInRange('databaseFreeStorageThreshold', settings.databaseFreeStorageThreshold, 0.1, 65_536, 'GiB');
  const freeStorage = settings.databaseFreeStorageThreshold ?? DATABASE_DEFAULTS.databaseFreeStorageThreshold;
  if (Number.isFinite(freeStorage) && Number.isInteger(allocated) && freeStorage >= allocated) {
    check.add(`databaseFreeStorageThreshold must be less than databaseAllocatedStorage (${allocated} GiB), or the alarm fires on an empty database (given ${freeStorage})`);
  }
  check.wholeNumber('databaseConnectionsThreshold', settings.databaseConnectionsThreshold, 1, 5000);
  return [...check.list];
}
