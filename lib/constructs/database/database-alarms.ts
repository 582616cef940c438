import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { Database } from './database.ts';

/** Where the stack's alarms go: the monitoring construct (its topic and alarm status through addAlarm, and its dashboard). */
export interface AlarmDestination {
  readonly dashboard: cloudwatch.Dashboard;
  /** Notifies the stack's topic on ALARM and OK and lists the alarm beside the others. */
  addAlarm(alarm: cloudwatch.Alarm): void;
}

export interface DatabaseAlarmsProps {
  readonly database: Database;
  readonly destination: AlarmDestination;
}

const GIB = 1024 ** 3;

/**
 * The database's alarms (CPU, free storage, connections) on the stack's alarm topic, with a row of
 * their own on the dashboard. None joins the release gate: a busy database is capacity, not a bad
 * release, and the gate's latency and 5xx alarms catch a release that overloads it.
 */
export class DatabaseAlarms extends Construct {
  public readonly cpu: cloudwatch.Alarm;
  public readonly freeStorage: cloudwatch.Alarm;
  public readonly connections: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: DatabaseAlarmsProps) {
    super(scope, id);
    const { database, destination } = props;
    const thresholds = database.alarmThresholds;

    // Three 5-minute periods: a vacuum, a migration or a report may spike CPU for minutes; a quarter
    // of an hour above the threshold is load the instance cannot carry.
    this.cpu = this.alarm(destination, 'DatabaseCpu', database.metricCpuUtilization(), {
      threshold: thresholds.databaseCpuThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      description: `Database CPU above ${thresholds.databaseCpuThreshold} % for 15 minutes: raise databaseInstanceType or find the expensive queries (Performance Insights).`,
    });
    // One period: free storage shrinks steadily, and a full volume stops every write.
    this.freeStorage = this.alarm(destination, 'DatabaseFreeStorage', database.metricFreeStorageSpace(), {
      threshold: thresholds.databaseFreeStorageThreshold * GIB,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      description: `Database free storage below ${thresholds.databaseFreeStorageThreshold} GiB: raise databaseMaxAllocatedStorage before writes fail.`,
    });
    // Five minutes in a row: a release briefly doubles the connections while old and new processes overlap.
    this.connections = this.alarm(destination, 'DatabaseConnections', database.metricDatabaseConnections(), {
      threshold: thresholds.databaseConnectionsThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      description: `More than ${thresholds.databaseConnectionsThreshold} database connections for 5 minutes: a connection leak, or more clients than the instance class allows.`,
    });

    const alarms = [this.cpu, this.freeStorage, this.connections];
    destination.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Database alarms', alarms, width: 24, height: 3 }),
      ...alarms.map((alarm) => new cloudwatch.AlarmWidget({ alarm, title: alarm.node.id, width: 8, height: 6 })),
    );
  }

  private alarm(
    destination: AlarmDestination,
    id: string,
    metric: cloudwatch.IMetric,
    options: Omit<cloudwatch.CreateAlarmOptions, 'alarmDescription'> & { description: string },
  ): cloudwatch.Alarm {
    const { description, ...rest } = options;
    // Missing data is no data to judge: the instance is stopped, or being created.
    const alarm = new cloudwatch.Alarm(this, id, { metric, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: description, ...rest });
    destination.addAlarm(alarm);
    return alarm;
  }
}
