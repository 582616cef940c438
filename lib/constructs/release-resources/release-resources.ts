import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { publishBucketEventsToEventBridge } from '../bucket-events.ts';
import { durableTableProps } from '../durable-table.ts';
import { allowGrantsForAwsServicesOnly } from '../kms/grants-for-aws-services-only.ts';
import { acknowledgeControl } from '../policy-checks/control-tower.ts';
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
  /** Alias of the artifact bucket's KMS key, e.g. `alias/sluice/dev/artifacts`; the CI stack's upload permission names the key by it. */
  readonly artifactKeyAliasName: string;
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
  /** Encrypts the artifacts: whoever reads them needs kms:Decrypt on it, whoever uploads kms:GenerateDataKey. */
  public readonly artifactKey: kms.Key;
  /** Partition key `pk`, sort key `sk`, TTL attribute `expiresAt`. */
  public readonly releaseTable: dynamodb.Table;
  public readonly currentVersionParameter: ssm.StringParameter;

  constructor(scope: Construct, id: string, props: ReleaseResourcesProps) {
    super(scope, id);
    throwIfInvalid('release resources', validateReleaseResourcesSettings(props));

    // A customer managed key (CT.S3.PR.10) rather than SSE-S3: reading an artifact then takes
    // kms:Decrypt on this key as well as s3:GetObject, and CloudTrail records every use. Cost: $1 a
    // month for the key; the S3 Bucket Key keeps KMS requests (at $0.03 per 10,000) to about one per
    // object upload or download session instead of one per request. Kept with the bucket: a retained
    // artifact whose key was deleted could never be read again.
    this.artifactKey = new kms.Key(this, 'ArtifactKey', {
      description: `sluice release artifacts (${props.artifactKeyAliasName})`,
      alias: props.artifactKeyAliasName,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    allowGrantsForAwsServicesOnly(this.artifactKey);
    this.artifactBucket = new s3.Bucket(this, 'ArtifactBucket', {
      versioned: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.artifactKey,
      bucketKeyEnabled: true,
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
    publishBucketEventsToEventBridge(this.artifactBucket);
    acknowledgeControl(this.artifactBucket, 'CT.S3.PR.9', 'Object Lock cannot be turned off again once on, and without a default retention it protects nothing that versioning and the retained bucket do not; with one, every overwritten artifact version would outlive artifactNoncurrentRetentionDays.');

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

  /** Lets `grantee` upload artifacts: s3:PutObject, s3:PutObjectLegalHold, s3:PutObjectRetention, s3:PutObjectTagging, s3:PutObjectVersionTagging, s3:Abort* on `releases/*`, and kms:Encrypt, kms:ReEncrypt*, kms:GenerateDataKey* on the artifact key. */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.artifactBucket.grantPut(grantee, 'releases/*');
  }
}
