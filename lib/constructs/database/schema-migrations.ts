import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { encryptedLogGroup } from '../log-groups/encrypted-log-group.ts';
import type { Database } from './database.ts';
import { migrationScriptNames, migrationScriptsHash } from './migration-scripts-hash.ts';

const repositoryRoot = new URL('../../../', import.meta.url);

/** Where the app's SQL scripts live; the release manifest's requiredMigration is read from the same folder. */
export const APP_MIGRATIONS_DIRECTORY = fileURLToPath(new URL('lib/runtime/app/migrations/', repositoryRoot));

/** Where the bundle holds the scripts on Lambda (the code is unpacked into /var/task). */
const BUNDLED_MIGRATIONS_DIRECTORY = '/var/task/migrations';

export interface SchemaMigrationsProps {
  readonly database: Database;
  readonly vpc: ec2.IVpc;
  /** Name of the SSM parameter that receives the highest applied migration, e.g. `/sluice/prod/schema-version`. */
  readonly schemaVersionParameterName: string;
  /**
   * The folder of numbered SQL scripts to bundle and apply.
   * @default APP_MIGRATIONS_DIRECTORY (lib/runtime/app/migrations)
   */
  readonly migrationsDirectory?: string;
}

/**
 * Applies the database migrations during `cdk deploy`: a custom resource whose handler
 * (lambda/migrate.ts, in the VPC) runs every pending script. Its properties hold the combined hash
 * of the scripts, so CloudFormation updates it — and the handler runs — whenever a script is added
 * or changed; a failure fails the resource and rolls the deployment back. What depends on
 * `resource` (the app instances) is deployed only after the migrations succeeded, and so is the
 * schema-version parameter, which `sluice release` compares with an artifact's requiredMigration.
 */
export class SchemaMigrations extends Construct {
  public readonly runner: nodejs.NodejsFunction;
  public readonly resource: CustomResource;
  /** The highest applied migration number (a string), set from the resource's `Version` attribute. */
  public readonly schemaVersionParameter: ssm.StringParameter;
  /** sha256 over the scripts' names and contents: the resource property that triggers a run. */
  public readonly scriptsHash: string;

  constructor(scope: Construct, id: string, props: SchemaMigrationsProps) {
    super(scope, id);
    const migrationsDirectory = props.migrationsDirectory ?? APP_MIGRATIONS_DIRECTORY;
    this.scriptsHash = migrationScriptsHash(migrationsDirectory);

    // --- the runner ----------------------------------------------------------------------------
    // In the private subnets with egress rather than isolated ones: it reads the credentials from
    // Secrets Manager, which the NAT gateway the app tier already pays for reaches; a Secrets
    // Manager interface endpoint would cost ~$15 a month (two AZs) for this one call per deploy.
    const runnerLogs = encryptedLogGroup(this, 'RunnerLogs');
    const runnerRole = new iam.Role(this, 'RunnerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'sluice migration runner: its log group, the database credentials, network interfaces in the VPC',
    });
    runnerLogs.grantWrite(runnerRole);
    props.database.grantReadCredentials(runnerRole);
    // What AWSLambdaVPCAccessExecutionRole grants, minus its logs:* on every group.
    runnerRole.addToPolicy(new iam.PolicyStatement({
      actions: [
        'ec2:AssignPrivateIpAddresses',
        'ec2:CreateNetworkInterface',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:UnassignPrivateIpAddresses',
      ],
      resources: ['*'],
    }));
    Validations.of(runnerRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'A function in a VPC needs the network-interface calls of AWSLambdaVPCAccessExecutionRole; the Describe calls have no resource types, and Lambda manages the interfaces in subnets it chooses. These are the only "*" actions of the migration runner.',
    });

    const sourceRelativeDirectory = relative(fileURLToPath(repositoryRoot), migrationsDirectory);
    this.runner = new nodejs.NodejsFunction(this, 'Runner', {
      description: 'sluice: applies pending database migrations during cdk deploy (custom resource)',
      entry: fileURLToPath(new URL('lambda/migrate.ts', repositoryRoot)),
      handler: 'handler',
      depsLockFilePath: fileURLToPath(new URL('package-lock.json', repositoryRoot)),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      // The most Lambda allows and the Provider framework waits for: a migration that needs longer
      // must be split (or run as a batched, non-transactional script).
      timeout: Duration.minutes(15),
      memorySize: 512,
      role: runnerRole,
      logGroup: runnerLogs,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [props.database.maintenanceSecurityGroup],
      environment: {
        DATABASE_SECRET_ARN: props.database.secret.secretArn,
        MIGRATIONS_DIR: BUNDLED_MIGRATIONS_DIRECTORY,
        // Node.js 20+ runtimes no longer trust Amazon's CAs by default; this file of the runtime
        // holds them, RDS's included, so that TLS to the database verifies its certificate.
        NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        // pg requires pg-native only when asked to; the SDK is in the runtime.
        externalModules: ['@aws-sdk/*', 'pg-native'],
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          // The scripts travel in the bundle, beside index.mjs: the handler reads MIGRATIONS_DIR.
          afterBundling: (inputDir, outputDir) => [
            `mkdir -p "${outputDir}/migrations"`,
            `[ ! -d "${inputDir}/${sourceRelativeDirectory}" ] || find "${inputDir}/${sourceRelativeDirectory}" -maxdepth 1 -type f -name '*.sql' -exec cp {} "${outputDir}/migrations/" ';'`,
          ],
        },
      },
    });

    // --- the custom resource -------------------------------------------------------------------
    const providerLogs = encryptedLogGroup(this, 'ProviderLogs');
    const providerRole = new iam.Role(this, 'ProviderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'sluice migration custom resource provider: invokes the migration runner, writes its log group',
    });
    providerLogs.grantWrite(providerRole);
    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.runner,
      logGroup: providerLogs,
      frameworkOnEventRole: providerRole,
    });
    Validations.of(providerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.logicalIdOf(this.runner)}.Arn>:*]`,
      reason: 'The CDK Provider framework lets its function invoke the migration runner and any version or alias of it (<arn>:*); that one function, nothing else.',
    });

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::SchemaMigrations',
      properties: {
        ScriptsHash: this.scriptsHash,
        Scripts: migrationScriptNames(migrationsDirectory).length,
        // A new instance (a replacement, a restore) is an empty or older database: migrate it too.
        DatabaseEndpoint: props.database.instance.dbInstanceEndpointAddress,
      },
    });
    // The credentials must be attached (host, port) and the instance reachable before the runner connects.
    this.resource.node.addDependency(props.database.instance);

    this.schemaVersionParameter = new ssm.StringParameter(this, 'SchemaVersion', {
      parameterName: props.schemaVersionParameterName,
      description: 'sluice: the highest database migration applied; set by the migration custom resource during cdk deploy, read by sluice release',
      stringValue: this.resource.getAttString('Version'),
      tier: ssm.ParameterTier.STANDARD,
    });
  }

  private logicalIdOf(fn: lambda.Function): string {
    return Stack.of(this).getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
  }
}
