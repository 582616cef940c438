import { Duration } from 'aws-cdk-lib';
import type { DatabaseSettings } from './database.ts';

/** The database's defaults, read by the construct, its validator and its alarms. Why each value: see DatabaseSettings. */
export const DATABASE_DEFAULTS: Readonly<Required<DatabaseSettings>> = {
  database: false,
  databaseInstanceType: 't4g.micro',
  databaseAllocatedStorage: 20,
  databaseMaxAllocatedStorage: 100,
  databaseMultiAz: true,
  databaseBackupRetention: Duration.days(7),
  // Sustained CPU this high leaves no headroom for a burst or a migration, and on a burstable
  // (t4g) class it drains the CPU credits that keep the instance at full speed.
  databaseCpuThreshold: 80,
  // RDS storage autoscaling grows the volume when less than 10 % is free, up to
  // databaseMaxAllocatedStorage; 2 GiB free means it cannot grow further (or is not keeping up),
  // and PostgreSQL stops accepting writes when the volume is full.
  databaseFreeStorageThreshold: 2,
  // RDS sets max_connections from the instance's memory (≈ memory / 9.5 MB): about 80 on a
  // t4g.micro. 60 is three quarters of that: time to find the leak or raise the class before
  // new connections are refused.
  databaseConnectionsThreshold: 60,
};

/** The port PostgreSQL listens on: not the well-known 5432 (cdk-nag AwsSolutions-RDS11); clients read it from the secret. */
export const DATABASE_PORT = 5433;

/** The database the stack creates, and the master user the app and the migrations use (from the secret). */
export const DATABASE_NAME = 'sluice';
export const DATABASE_USER = 'sluice';
