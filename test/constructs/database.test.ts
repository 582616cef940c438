import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { Database, type DatabaseSettings } from '../../lib/constructs/database/database.ts';
import { SchemaMigrations } from '../../lib/constructs/database/schema-migrations.ts';
import { resolveStageConfig } from '../../lib/config/resolve-stage-config.ts';
import { synthStage, testApp } from '../helpers/synth.ts';

const prod = synthStage('prod');
const devWithDatabase = synthStage('dev', { database: true, databaseMultiAz: false });
const dev = synthStage('dev');

type Resources = Record<string, { Type: string; Properties: Record<string, any>; DependsOn?: string[]; DeletionPolicy?: string; UpdateReplacePolicy?: string }>;
const resourcesOf = (template: Template): Resources => template.toJSON().Resources;
const onlyOf = (template: Template, type: string) => {
  const found = Object.entries(resourcesOf(template)).filter(([, resource]) => resource.Type === type);
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return { logicalId: found[0][0], ...found[0][1] };
};
const getAttId = (value: unknown) => (value as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

describe('Database (the stage stack)', () => {
  it('exists in prod and not in dev, unless a stage turns it on', () => {
    prod.template.resourceCountIs('AWS::RDS::DBInstance', 1);
    dev.template.resourceCountIs('AWS::RDS::DBInstance', 0);
    dev.template.resourceCountIs('Custom::SchemaMigrations', 0);
    devWithDatabase.template.resourceCountIs('AWS::RDS::DBInstance', 1);
    expect(resolveStageConfig('dev', { database: 'true' }).database).toBe(true);
  });

  it('is PostgreSQL 18, encrypted, TLS only, never public, on gp3 storage that grows', () => {
    const instance = onlyOf(prod.template, 'AWS::RDS::DBInstance');
    expect(instance.Properties).toMatchObject({
      Engine: 'postgres',
      EngineVersion: '18',
      StorageEncrypted: true,
      PubliclyAccessible: false,
      StorageType: 'gp3',
      AllocatedStorage: '20',
      MaxAllocatedStorage: 100,
      DBInstanceClass: 'db.t4g.micro',
      MultiAZ: true,
      BackupRetentionPeriod: 7,
      Port: '5433',
      DBName: 'sluice',
      EnablePerformanceInsights: true,
      EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
    });
    prod.template.hasResourceProperties('AWS::RDS::DBParameterGroup', { Family: 'postgres18', Parameters: { 'rds.force_ssl': '1' } });
    expect(instance.Properties.DBParameterGroupName).toEqual({ Ref: onlyOf(prod.template, 'AWS::RDS::DBParameterGroup').logicalId });
  });

  it('lives in isolated subnets: no route leaves the VPC from them', () => {
    const resources = resourcesOf(prod.template);
    const subnetGroup = onlyOf(prod.template, 'AWS::RDS::DBSubnetGroup');
    const subnetIds = (subnetGroup.Properties.SubnetIds as { Ref: string }[]).map((subnet) => subnet.Ref);
    expect(subnetIds).toHaveLength(2);
    for (const subnetId of subnetIds) {
      expect(resources[subnetId].Properties.Tags).toEqual(expect.arrayContaining([{ Key: 'aws-cdk:subnet-type', Value: 'Isolated' }]));
      const association = Object.values(resources).find((resource) => resource.Type === 'AWS::EC2::SubnetRouteTableAssociation' && resource.Properties.SubnetId.Ref === subnetId);
      const routeTable = association?.Properties.RouteTableId.Ref;
      const routes = Object.values(resources).filter((resource) => resource.Type === 'AWS::EC2::Route' && resource.Properties.RouteTableId.Ref === routeTable);
      expect(routes, `routes out of ${subnetId}`).toEqual([]);
    }
    // The existing subnets keep their address ranges: the isolated ones come after them.
    const cidrs = Object.values(resources).filter((resource) => resource.Type === 'AWS::EC2::Subnet').map((subnet) => subnet.Properties.CidrBlock).sort();
    const devCidrs = Object.values(resourcesOf(dev.template)).filter((resource) => resource.Type === 'AWS::EC2::Subnet').map((subnet) => subnet.Properties.CidrBlock);
    expect(cidrs).toEqual([...devCidrs, '10.0.12.0/24', '10.0.13.0/24'].sort());
  });

  it('has deletion protection and a final snapshot in prod; is disposable in a stage that does not protect data', () => {
    const prodInstance = onlyOf(prod.template, 'AWS::RDS::DBInstance');
    expect(prodInstance.Properties.DeletionProtection).toBe(true);
    expect(prodInstance.DeletionPolicy).toBe('Snapshot');
    expect(prodInstance.UpdateReplacePolicy).toBe('Snapshot');
    expect(prodInstance.Properties.DeleteAutomatedBackups).toBe(false);
    // A restored snapshot keeps the master password: the secret stays too.
    expect(onlyOf(prod.template, 'AWS::SecretsManager::Secret').DeletionPolicy).toBe('Retain');

    const devInstance = onlyOf(devWithDatabase.template, 'AWS::RDS::DBInstance');
    expect(devInstance.Properties.DeletionProtection).toBe(false);
    expect(devInstance.DeletionPolicy).toBe('Delete');
    expect(devInstance.Properties.MultiAZ).toBe(false);
    expect(onlyOf(devWithDatabase.template, 'AWS::SecretsManager::Secret').DeletionPolicy).toBe('Delete');
  });

  it('exports its logs to log groups it creates first, where RDS writes them, encrypted with the stack key and kept a year', () => {
    const instance = onlyOf(prod.template, 'AWS::RDS::DBInstance');
    expect(instance.Properties.DBInstanceIdentifier).toBe('sluice-prod-database');
    for (const type of ['postgresql', 'upgrade']) {
      const [logicalId, group] = Object.entries(resourcesOf(prod.template))
        .find(([, resource]) => resource.Type === 'AWS::Logs::LogGroup' && resource.Properties.LogGroupName === `/aws/rds/instance/sluice-prod-database/${type}`) ?? [];
      expect(group, type).toBeDefined();
      expect(group?.Properties).toMatchObject({ RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^LogEncryptionKey/), 'Arn'] } });
      expect(instance.DependsOn).toContain(logicalId);
    }
  });

  it('keeps the master credentials in Secrets Manager, attached to the instance, rotated every 30 days from inside the VPC', () => {
    const secret = onlyOf(prod.template, 'AWS::SecretsManager::Secret');
    expect(secret.Properties.GenerateSecretString).toMatchObject({ SecretStringTemplate: '{"username":"sluice"}', GenerateStringKey: 'password' });
    const attachment = onlyOf(prod.template, 'AWS::SecretsManager::SecretTargetAttachment');
    expect(attachment.Properties).toEqual({ SecretId: { Ref: secret.logicalId }, TargetId: { Ref: onlyOf(prod.template, 'AWS::RDS::DBInstance').logicalId }, TargetType: 'AWS::RDS::DBInstance' });
    const schedule = onlyOf(prod.template, 'AWS::SecretsManager::RotationSchedule');
    expect(schedule.Properties.SecretId).toEqual({ Ref: attachment.logicalId });
    expect(schedule.Properties.RotationRules).toEqual({ ScheduleExpression: 'rate(30 days)' });
    // AWS's single-user PostgreSQL rotation function, in the private subnets with the maintenance group.
    const rotation = onlyOf(prod.template, 'AWS::Serverless::Application');
    expect(getAttId(schedule.Properties.RotationLambdaARN)).toBe(rotation.logicalId);
    expect(JSON.stringify(prod.template.toJSON().Mappings)).toContain('SecretsManagerRDSPostgreSQLRotationSingleUser');
    const parameters = rotation.Properties.Parameters;
    expect(parameters.vpcSecurityGroupIds).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DatabaseMaintenanceSecurityGroup/), 'GroupId'] });
    expect(JSON.stringify(parameters.vpcSubnetIds)).toMatch(/AppTierVpcappSubnet1Subnet.*AppTierVpcappSubnet2Subnet/);
  });

  it('admits PostgreSQL from exactly two security groups: the app instances and the maintenance functions (migration runner, rotation)', () => {
    const databaseGroup = onlyOf(prod.template, 'AWS::RDS::DBInstance').Properties.VPCSecurityGroups[0];
    const databaseGroupId = getAttId(databaseGroup);
    const resources = resourcesOf(prod.template);
    expect(resources[databaseGroupId].Properties.SecurityGroupIngress).toBeUndefined();
    const ingress = Object.values(resources).filter((resource) => resource.Type === 'AWS::EC2::SecurityGroupIngress' && getAttId(resource.Properties.GroupId) === databaseGroupId);
    expect(ingress.map((rule) => getAttId(rule.Properties.SourceSecurityGroupId)).sort()).toEqual([
      expect.stringMatching(/^AppTierInstanceSecurityGroup/),
      expect.stringMatching(/^DatabaseMaintenanceSecurityGroup/),
    ]);
    // Only PostgreSQL's port (5433, see above), as the instance reports it.
    const port = { 'Fn::GetAtt': [onlyOf(prod.template, 'AWS::RDS::DBInstance').logicalId, 'Endpoint.Port'] };
    for (const rule of ingress) expect(rule.Properties).toMatchObject({ IpProtocol: 'tcp', FromPort: port, ToPort: port });
    // The database opens no connections of its own.
    expect(resources[databaseGroupId].Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '255.255.255.255/32' })]);
    // The migration runner is in the maintenance group.
    const runner = Object.values(resources).find((resource) => resource.Type === 'AWS::Lambda::Function' && resource.Properties.Environment?.Variables?.MIGRATIONS_DIR);
    expect(runner?.Properties.VpcConfig.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^DatabaseMaintenanceSecurityGroup/), 'GroupId'] }]);
  });

  it('tells the instances where the credentials are and lets them read exactly that secret', () => {
    const userData = JSON.stringify(onlyOf(prod.template, 'AWS::EC2::LaunchTemplate').Properties.LaunchTemplateData.UserData);
    expect(userData).toMatch(/\\nDATABASE_SECRET_ARN=",\{"Ref":"DatabaseInstanceSecretAttachment/);
    const statements = Object.values(resourcesOf(prod.template))
      .filter((resource) => resource.Type === 'AWS::IAM::Policy' && resource.Properties.Roles.some((role: { Ref: string }) => role.Ref.startsWith('AppTierInstanceRole')))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    // kms:Decrypt on the artifact bucket's key is the release artifacts' (lib/constructs/release-resources), not the secret's.
    const secretStatements = statements
      .filter((statement) => !JSON.stringify(statement.Resource).includes('ReleaseArtifactKey'))
      .filter((statement) => [statement.Action].flat().some((action) => action.startsWith('secretsmanager:') || action.startsWith('kms:')));
    expect(secretStatements).toEqual([
      { Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: { Ref: onlyOf(prod.template, 'AWS::SecretsManager::SecretTargetAttachment').logicalId } },
    ]);
    expect(JSON.stringify(onlyOf(dev.template, 'AWS::EC2::LaunchTemplate').Properties.LaunchTemplateData.UserData)).not.toContain('DATABASE_SECRET_ARN');
  });

  it('gives the instances the RDS certificate authorities, fetched at boot, so the app verifies the database\'s TLS certificate', () => {
    const userData = JSON.stringify(onlyOf(prod.template, 'AWS::EC2::LaunchTemplate').Properties.LaunchTemplateData.UserData);
    expect(userData).toContain('curl -fsS --retry 5 -o /etc/sluice/rds-ca.pem https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem');
    expect(userData).toContain('\\nDATABASE_CA_FILE=/etc/sluice/rds-ca.pem');
    // Fetched before any service starts (the first start is at the end of the script).
    expect(userData.indexOf('rds-ca.pem https://')).toBeLessThan(userData.indexOf('systemctl start'));
    expect(JSON.stringify(onlyOf(dev.template, 'AWS::EC2::LaunchTemplate').Properties.LaunchTemplateData.UserData)).not.toContain('rds-ca.pem');
  });

  it('alarms on CPU, free storage and connections, on the alarm topic and the dashboard', () => {
    const alarms = Object.values(resourcesOf(prod.template)).filter((resource) => resource.Type === 'AWS::CloudWatch::Alarm'
      && resource.Properties.Namespace === 'AWS/RDS');
    const byMetric = Object.fromEntries(alarms.map((alarm) => [alarm.Properties.MetricName, alarm.Properties]));
    expect(Object.keys(byMetric).sort()).toEqual(['CPUUtilization', 'DatabaseConnections', 'FreeStorageSpace']);
    expect(byMetric.CPUUtilization).toMatchObject({ Statistic: 'Average', Period: 300, EvaluationPeriods: 3, Threshold: 80, ComparisonOperator: 'GreaterThanThreshold' });
    expect(byMetric.FreeStorageSpace).toMatchObject({ Statistic: 'Minimum', Period: 300, EvaluationPeriods: 1, Threshold: 2 * 1024 ** 3, ComparisonOperator: 'LessThanThreshold' });
    expect(byMetric.DatabaseConnections).toMatchObject({ Statistic: 'Maximum', Period: 60, EvaluationPeriods: 5, Threshold: 60, ComparisonOperator: 'GreaterThanThreshold' });
    const instanceId = onlyOf(prod.template, 'AWS::RDS::DBInstance').logicalId;
    for (const alarm of alarms) {
      expect(alarm.Properties.Dimensions).toEqual([{ Name: 'DBInstanceIdentifier', Value: { Ref: instanceId } }]);
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^MonitoringAlarmTopic/) }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: expect.stringMatching(/^MonitoringAlarmTopic/) }]);
    }
    const body = JSON.stringify(onlyOf(prod.template, 'AWS::CloudWatch::Dashboard').Properties.DashboardBody);
    expect(body).toContain('Database alarms');
    for (const id of ['DatabaseCpu', 'DatabaseFreeStorage', 'DatabaseConnections']) expect(body).toContain(`\\"title\\":\\"${id}\\"`);
    // A busy database is capacity, not a bad release: the release gate leaves them out.
    const gate = onlyOf(prod.template, 'AWS::CloudWatch::CompositeAlarm');
    expect(JSON.stringify(gate.Properties.AlarmRule)).not.toMatch(/DatabaseAlarms/);
  });

  it('takes the alarm thresholds from the stage', () => {
    const tuned = synthStage('prod', { databaseCpuThreshold: 90, databaseFreeStorageThreshold: 5, databaseConnectionsThreshold: 400 }).template;
    tuned.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'CPUUtilization', Namespace: 'AWS/RDS', Threshold: 90 });
    tuned.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'FreeStorageSpace', Threshold: 5 * 1024 ** 3 });
    tuned.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'DatabaseConnections', Threshold: 400 });
  });

  it('has no unacknowledged AWS Solutions findings with a single-AZ, unprotected database either', () => {
    const report = new AwsSolutionsChecks(devWithDatabase.app).validateScope(devWithDatabase.app);
    expect(report.violations.map((violation) => `${violation.ruleName}: ${violation.violatingResources.map((resource) => resource.resourceLogicalId).join(', ')}`)).toEqual([]);
  });
});

describe('SchemaMigrations (the custom resource)', () => {
  it('runs the migration handler in the VPC with the secret, the bundled scripts and the runtime CA file', () => {
    const runner = Object.values(resourcesOf(prod.template)).find((resource) => resource.Type === 'AWS::Lambda::Function' && resource.Properties.Environment?.Variables?.MIGRATIONS_DIR);
    expect(runner?.Properties).toMatchObject({ Runtime: 'nodejs24.x', Timeout: 900, Handler: 'index.handler' });
    expect(runner?.Properties.Environment.Variables).toMatchObject({
      DATABASE_SECRET_ARN: { Ref: expect.stringMatching(/^DatabaseInstanceSecretAttachment/) },
      MIGRATIONS_DIR: '/var/task/migrations',
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
    });
    expect(JSON.stringify(runner?.Properties.VpcConfig.SubnetIds)).toMatch(/AppTierVpcappSubnet1Subnet.*AppTierVpcappSubnet2Subnet/);
    expect(runner?.Properties.LoggingConfig.LogGroup).toEqual({ Ref: expect.stringMatching(/^MigrationsRunnerLogs/) });
    prod.template.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LogEncryptionKey'), 'Arn'] }, RetentionInDays: 365 });
  });

  it('holds the scripts hash, runs after the database, and the app instances wait for it', () => {
    const resource = onlyOf(prod.template, 'Custom::SchemaMigrations');
    expect(resource.Properties.ScriptsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(resource.DependsOn).toEqual(expect.arrayContaining([onlyOf(prod.template, 'AWS::RDS::DBInstance').logicalId]));
    expect(onlyOf(prod.template, 'AWS::AutoScaling::AutoScalingGroup').DependsOn).toContain(resource.logicalId);
  });

  it('writes /sluice/<stage>/schema-version from the Version the handler returns', () => {
    const resource = onlyOf(prod.template, 'Custom::SchemaMigrations');
    prod.template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/sluice/prod/schema-version', Type: 'String', Value: { 'Fn::GetAtt': [resource.logicalId, 'Version'] } });
    dev.template.resourcePropertiesCountIs('AWS::SSM::Parameter', { Name: '/sluice/dev/schema-version' }, 0);
  });

  /** The hash property of a migrations resource over `directory`. */
  function scriptsHashOf(directory: string): string {
    const stack = new Stack(testApp(), 'Migrations');
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      ],
    });
    const database = new Database(stack, 'Database', { vpc });
    new SchemaMigrations(stack, 'Migrations', { database, vpc, schemaVersionParameterName: '/sluice/test/schema-version', migrationsDirectory: directory });
    return onlyOf(Template.fromStack(stack), 'Custom::SchemaMigrations').Properties.ScriptsHash;
  }

  it('changes its hash property — so CloudFormation runs it — whenever a script is added, edited or renamed, and only then', () => {
    const directory = mkdtempSync(join(tmpdir(), 'sluice-migrations-'));
    const empty = scriptsHashOf(directory);
    writeFileSync(join(directory, '0000_baseline.sql'), 'CREATE TABLE jobs (id text PRIMARY KEY);\n');
    const baseline = scriptsHashOf(directory);
    expect(baseline).not.toBe(empty);
    expect(scriptsHashOf(directory)).toBe(baseline);
    // Files that are not scripts do not count.
    writeFileSync(join(directory, 'README.md'), 'notes');
    expect(scriptsHashOf(directory)).toBe(baseline);

    writeFileSync(join(directory, '0001_add_status.sql'), 'ALTER TABLE jobs ADD COLUMN status text;\n');
    const added = scriptsHashOf(directory);
    expect(added).not.toBe(baseline);
    writeFileSync(join(directory, '0001_add_status.sql'), "ALTER TABLE jobs ADD COLUMN status text NOT NULL DEFAULT 'new';\n");
    const edited = scriptsHashOf(directory);
    expect(edited).not.toBe(added);
    renameSync(join(directory, '0001_add_status.sql'), join(directory, '0001_add_state.sql'));
    expect(scriptsHashOf(directory)).not.toBe(edited);
    // A missing folder is no scripts at all.
    expect(scriptsHashOf(join(directory, 'missing'))).toBe(empty);
  });
});

describe('database settings', () => {
  const problemsOf = (settings: DatabaseSettings) => {
    try {
      resolveStageConfig('prod', {}, { prod: { stageName: 'prod', protectData: true, database: true, ...settings } });
      return [];
    } catch (error) {
      return (error as { problems: string[] }).problems;
    }
  };

  it('accepts the defaults and sensible values', () => {
    expect(problemsOf({})).toEqual([]);
    expect(problemsOf({ databaseInstanceType: 'm7g.large', databaseAllocatedStorage: 100, databaseMaxAllocatedStorage: 500, databaseBackupRetention: Duration.days(35) })).toEqual([]);
  });

  it('lists every problem at once, naming the setting, the rule and the value', () => {
    expect(problemsOf({
      databaseInstanceType: 'db.t4g.micro',
      databaseAllocatedStorage: 10,
      databaseBackupRetention: Duration.days(0),
      databaseCpuThreshold: 120,
      databaseConnectionsThreshold: 0,
    })).toEqual([
      'databaseInstanceType must be an RDS instance class without the "db." prefix, such as t4g.micro or m7g.large (given "db.t4g.micro")',
      'databaseAllocatedStorage must be a whole number between 20 and 65536 GiB (given 10)',
      'databaseBackupRetention must be a whole number of days between 1 and 35 (given 0 days)',
      'databaseCpuThreshold must be between 1 and 100 percent (given 120)',
      'databaseConnectionsThreshold must be a whole number between 1 and 5000 (given 0)',
    ]);
  });

  it('refuses storage autoscaling at or below the allocated storage, and a free-storage alarm above it', () => {
    expect(problemsOf({ databaseAllocatedStorage: 50, databaseMaxAllocatedStorage: 50, databaseFreeStorageThreshold: 60 })).toEqual([
      'databaseMaxAllocatedStorage must be more than databaseAllocatedStorage (50 GiB) for storage autoscaling (given 50)',
      'databaseFreeStorageThreshold must be less than databaseAllocatedStorage (50 GiB), or the alarm fires on an empty database (given 60)',
    ]);
  });

  it('reads every database setting from the command line', () => {
    const config = resolveStageConfig('dev', {
      database: 'true', databaseInstanceType: 't4g.small', databaseAllocatedStorage: '30', databaseMaxAllocatedStorage: '200', databaseMultiAz: 'false',
      databaseBackupRetention: '14d', databaseCpuThreshold: '75.5', databaseFreeStorageThreshold: '3', databaseConnectionsThreshold: '120',
    });
    expect(config).toMatchObject({ database: true, databaseInstanceType: 't4g.small', databaseAllocatedStorage: 30, databaseMaxAllocatedStorage: 200, databaseMultiAz: false, databaseCpuThreshold: 75.5, databaseFreeStorageThreshold: 3, databaseConnectionsThreshold: 120 });
    expect(config.databaseBackupRetention?.toDays()).toBe(14);
  });
});
