import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { durableTableProps } from '../durable-table.ts';
import { throwIfInvalid } from '../settings-validation.ts';
import { RELEASE_RESOURCES_DEFAULTS } from './release-resources-defaults.ts';
import { validateReleaseResourcesSettings } from './validate-release-resources-settings.ts';

/** The tunable settings of the release resources. */
export interface ReleaseResourcesSettings {
  /**
   * Days after which a release artifact moves to infrequent-access storage (it stays installable).
   * @default 30
   */
  readonly artifactInfrequentAccessDays?: number;
  /**
   * Days an overwritten or deleted artifact version is kept before it is removed.
   * @default 30
   */
  readonly artifactNoncurrentRetentionDays?: number;
}

export interface ReleaseResourcesProps extends ReleaseResourcesSettings {
  /** Name of the SSM parameter that holds the current release version, e.g. `/sluice/dev/current-version`. */
  readonly currentVersionParameterName: string;
  /** Bucket that receives the artifact bucket's server access logs. */
  readonly accessLogsBucket: s3.IBucket;
  /**
   * Keep the release history when the stack is deleted, and protect it from deletion.
   * @default false
   */
  readonly retainHistory?: boolean;
}

/**
 * What the rolling release works with: the artifact bucket (`releases/<version>.tgz`), the release
 * table (the lock, the journal of an ongoing release and the history) and the parameter naming the
 * current version, which instances launched by the group install.
 */
export class ReleaseResources extends Construct {
  public readonly artifactBucket: s3.Bucket;
  /** Partition key `pk`, sort key `sk`, TTL attribute `expiresAt`. */
  public readonly releaseTable: dynamodb.Table;
  public readonly currentVersionParameter: ssm.StringParameter;

  constructor(scope: Construct, id: string, props: ReleaseResourcesProps) {
    super(scope, id);
    throwIfInvalid('release resources', validateReleaseResourcesSettings(props));

    this.artifactBucket = new s3.Bucket(this, 'ArtifactBucket', {
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'artifact-bucket/',
      // Current artifacts never expire: a rollback or an instance launched months later may need any
      // of them. Old ones only move to cheaper storage; overwritten versions are removed after a while.
      lifecycleRules: [
        {
          prefix: 'releases/',
          transitions: [{
            storageClass: s3.StorageClass.INFREQUENT_ACCESS,
            transitionAfter: Duration.days(props.artifactInfrequentAccessDays ?? RELEASE_RESOURCES_DEFAULTS.artifactInfrequentAccessDays),
          }],
          noncurrentVersionExpiration: Duration.days(props.artifactNoncurrentRetentionDays ?? RELEASE_RESOURCES_DEFAULTS.artifactNoncurrentRetentionDays),
        },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.releaseTable = new dynamodb.Table(this, 'ReleaseTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
      ...durableTableProps(props.retainHistory ?? false),
    });

    this.currentVersionParameter = new ssm.StringParameter(this, 'CurrentVersion', {
      parameterName: props.currentVersionParameterName,
      description: 'sluice: the release version instances run; set by `sluice release`',
      // "none" until the first release; instances launched before it wait for that release.
      stringValue: 'none',
      tier: ssm.ParameterTier.STANDARD,
    });
  }

  /** Lets `grantee` upload artifacts: s3:PutObject, s3:PutObjectLegalHold, s3:PutObjectRetention, s3:PutObjectTagging, s3:PutObjectVersionTagging, s3:Abort* on `releases/*`. */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.artifactBucket.grantPut(grantee, 'releases/*');
  }
}
