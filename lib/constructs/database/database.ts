import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { encryptedLogGroup } from '../log-groups/encrypted-log-group.ts';
import { throwIfInvalid } from '../settings-validation.ts';
import { DATABASE_DEFAULTS, DATABASE_NAME, DATABASE_PORT, DATABASE_USER } from './database-defaults.ts';
import { validateDatabaseSettings } from './validate-database-settings.ts';

/** The tunable settings of the app's PostgreSQL database. */
export interface DatabaseSettings {
  /**
   * Give the stage a PostgreSQL database (RDS), its migrations and its alarms.
   * @default false — about $30 a month for the smallest Multi-AZ instance; prod turns it on
   */
  readonly database?: boolean;
  /**
   * RDS instance class, without the `db.` prefix.
   * @default 't4g.micro' — the smallest Graviton class; raise it when CPU or connections alarm
   */
  readonly databaseInstanceType?: string;
  /**
   * Storage the instance starts with, in GiB (gp3: at least 20).
   * @default 20
   */
  readonly databaseAllocatedStorage?: number;
  /**
   * Storage autoscaling grows the volume up to this many GiB; more than databaseAllocatedStorage.
   * @default 100
   */
  readonly databaseMaxAllocatedStorage?: number;
  /**
   * A synchronous standby in the second AZ that takes over within 1–2 minutes when the primary or
   * its AZ fails. `false` halves the cost and leaves an AZ outage to a restore from backup.
   * @default true
   */
  readonly databaseMultiAz?: boolean;
  /**
   * How long automated backups (and point-in-time recovery) reach back: 1 to 35 days.
   * @default 7 days
   */
  readonly databaseBackupRetention?: Duration;
  /**
   * Average CPU utilisation, in percent, above which the CPU alarm fires (three 5-minute periods in a row).
   * @default 80
   */
  readonly databaseCpuThreshold?: number;
  /**
   * Free storage, in GiB, below which the storage alarm fires.
   * @default 2
   */
  readonly databaseFreeStorageThreshold?: number;
  /**
   * Open connections above which the connections alarm fires (five minutes in a row).
   * @default 60 — three quarters of the ~80 that RDS allows a t4g.micro; raise it with the instance class
   */
  readonly databaseConnectionsThreshold?: number;
}

export interface DatabaseProps extends DatabaseSettings {
  /** The VPC: the instance goes into its isolated subnets, the rotation function into its private subnets with egress. */
  readonly vpc: ec2.IVpc;
  /**
   * Deletion protection, and a final snapshot (RemovalPolicy.SNAPSHOT) when the instance is removed;
   * the credentials secret is kept too, since a restored snapshot still needs its password.
   * @default false — the instance and its secret are deleted with the stack
   */
  readonly protectData?: boolean;
}

/**
 * The app's PostgreSQL database on RDS: encrypted storage, TLS only (`rds.force_ssl`), in the VPC's
 * isolated subnets, its master credentials in Secrets Manager with single-user rotation, its logs
 * exported to encrypted CloudWatch log groups. Reachable from no one until a caller allows a
 * security group (`allowConnectionsFrom`); the migration runner and the rotation function share
 * `maintenanceSecurityGroup`, which is allowed from the start.
 */
export class Database extends Construct {
  public readonly instance: rds.DatabaseInstance;
  /** The master credentials as RDS attached them: JSON with host, port, dbname, username, password. */
  public readonly secret: secretsmanager.ISecret;
  /** The instance's own security group: PostgreSQL's port from the allowed groups only. */
  public readonly securityGroup: ec2.SecurityGroup;
  /** For the functions that maintain the database: the migration runner and the secret rotation. */
  public readonly maintenanceSecurityGroup: ec2.SecurityGroup;
  public readonly port = DATABASE_PORT;
  private readonly settings: Required<DatabaseSettings>;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    throwIfInvalid('database', validateDatabaseSettings(props));
    this.settings = Object.fromEntries(
      Object.entries(DATABASE_DEFAULTS).map(([name, fallback]) => [name, props[name as keyof DatabaseSettings] ?? fallback]),
    ) as Required<DatabaseSettings>;
    const protectData = props.protectData ?? false;

    // --- network -------------------------------------------------------------------------------
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'sluice database: PostgreSQL from the app instances and the maintenance functions only',
      // A database answers; it never opens connections of its own.
      allowAllOutbound: false,
    });
    this.maintenanceSecurityGroup = new ec2.SecurityGroup(this, 'MaintenanceSecurityGroup', {
      vpc: props.vpc,
      description: 'sluice database maintenance: the migration runner and the secret rotation function',
      // Both call Secrets Manager's public endpoint (through the NAT gateway) besides the database.
      allowAllOutbound: true,
    });

    // --- engine settings -----------------------------------------------------------------------
    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_18 });
    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: 'sluice: TLS only',
      // Refuse every connection without TLS, whatever a client asks for.
      parameters: { 'rds.force_ssl': '1' },
    });

    // --- logs ----------------------------------------------------------------------------------
    // RDS exports each log type to /aws/rds/instance/<identifier>/<type> and creates that group
    // itself — unencrypted and never expiring — unless it already exists. So the identifier is
    // fixed and the groups come first, with the stack's KMS key and retention. (What RDS cannot do:
    // take a log group of another name, or a key per export.)
    const stackName = Stack.of(this).stackName;
    if (Token.isUnresolved(stackName)) throw new Error('database: the stack needs a literal name, which the instance identifier and its log groups are named after');
    const instanceIdentifier = `${stackName}-database`.toLowerCase();
    const logTypes = ['postgresql', 'upgrade'];
    const logGroups = logTypes.map((type) =>
      encryptedLogGroup(this, `${type === 'postgresql' ? 'PostgreSql' : 'Upgrade'}Logs`, {
        logGroupName: `/aws/rds/instance/${instanceIdentifier}/${type}`,
      }));

    // --- instance ------------------------------------------------------------------------------
    this.instance = new rds.DatabaseInstance(this, 'Instance', {
      engine,
      instanceIdentifier,
      instanceType: new ec2.InstanceType(this.settings.databaseInstanceType),
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [this.securityGroup],
      publiclyAccessible: false,
      port: DATABASE_PORT,
      databaseName: DATABASE_NAME,
      credentials: rds.Credentials.fromGeneratedSecret(DATABASE_USER),
      parameterGroup,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      storageEncrypted: true,
      storageType: rds.StorageType.GP3,
      allocatedStorage: this.settings.databaseAllocatedStorage,
      maxAllocatedStorage: this.settings.databaseMaxAllocatedStorage,
      multiAz: this.settings.databaseMultiAz,
      backupRetention: this.settings.databaseBackupRetention,
      copyTagsToSnapshot: true,
      // Minor versions carry security fixes and keep the on-disk format: RDS applies them in the
      // maintenance window. A major version is a reviewed change of the engine above.
      autoMinorVersionUpgrade: true,
      allowMajorVersionUpgrade: false,
      // Performance Insights at its free tier (7 days): which queries load the database. Enhanced
      // monitoring (OS metrics every few seconds) is left off: it needs a role with an AWS managed
      // policy and bills its log ingestion, and the alarms need only the standard metrics.
      enablePerformanceInsights: true,
      performanceInsightRetention: rds.PerformanceInsightRetention.DEFAULT,
      cloudwatchLogsExports: logTypes,
      deletionProtection: protectData,
      removalPolicy: protectData ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
      deleteAutomatedBackups: !protectData,
    });
    for (const logGroup of logGroups) this.instance.node.defaultChild?.node.addDependency(logGroup);
    if (!this.instance.secret) throw new Error('database: RDS generated no credentials secret');
    this.secret = this.instance.secret;
    (this.instance.node.findChild('Secret') as secretsmanager.Secret).applyRemovalPolicy(protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY);

    // --- credentials rotation ------------------------------------------------------------------
    // Single-user rotation of the master password by AWS's rotation function, every 30 days. The
    // function runs in the VPC (it must reach the database) with the maintenance group, so the
    // database admits exactly the app instances and the maintenance group. Clients read the secret
    // when they connect, so a rotated password reaches them on their next connection.
    this.allowConnectionsFrom(this.maintenanceSecurityGroup, 'PostgreSQL from the migration runner and the secret rotation');
    this.instance.addRotationSingleUser({
      automaticallyAfter: Duration.days(30),
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroup: this.maintenanceSecurityGroup,
    });

    // --- what cdk-nag asks that a stage may decline -------------------------------------------
    if (!this.settings.databaseMultiAz) {
      Validations.of(this.instance).acknowledge({
        id: 'AwsSolutions-RDS3',
        reason: 'This stage sets databaseMultiAz: false to halve the database cost; an AZ outage means a restore from the automated backups, which it accepts.',
      });
    }
    if (!protectData) {
      Validations.of(this.instance).acknowledge({
        id: 'AwsSolutions-RDS10',
        reason: 'This stage does not protect data (protectData: false): its database is disposable and is deleted with the stack; prod has deletion protection and a final snapshot.',
      });
    }
  }

  /**
   * Lets `peer` open connections to PostgreSQL's port; nothing else reaches the instance. (The
   * instance's own port attribute, as the rotation's rule uses: one rule per peer, not two.)
   */
  allowConnectionsFrom(peer: ec2.IConnectable, description: string): void {
    this.instance.connections.allowDefaultPortFrom(peer, description);
  }

  /**
   * Lets `grantee` read the credentials: secretsmanager:GetSecretValue on exactly the database's
   * secret, and kms:Decrypt on its key when it has one of its own (the default AWS managed key
   * needs no grant).
   */
  grantReadCredentials(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['secretsmanager:GetSecretValue'], resourceArns: [this.secret.secretArn] });
    this.secret.encryptionKey?.grantDecrypt(grantee);
  }

  // --- metrics the alarms use ----------------------------------------------------------------

  /** Average CPU utilisation in percent, per 5 minutes. */
  metricCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instance.metricCPUUtilization({ statistic: 'Average', period: Duration.minutes(5), ...props });
  }

  /** Least free storage in bytes, per 5 minutes. */
  metricFreeStorageSpace(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instance.metricFreeStorageSpace({ statistic: 'Minimum', period: Duration.minutes(5), ...props });
  }

  /** Most open connections, per minute. */
  metricDatabaseConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.instance.metricDatabaseConnections({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }

  /** The alarm thresholds this database was configured with (defaults applied). */
  get alarmThresholds(): Readonly<Pick<Required<DatabaseSettings>, 'databaseCpuThreshold' | 'databaseFreeStorageThreshold' | 'databaseConnectionsThreshold'>> {
    const { databaseCpuThreshold, databaseFreeStorageThreshold, databaseConnectionsThreshold } = this.settings;
    return { databaseCpuThreshold, databaseFreeStorageThreshold, databaseConnectionsThreshold };
  }
}
