import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { publishBucketEventsToEventBridge } from '../bucket-events.ts';
import { acknowledgeControl } from '../policy-checks/control-tower.ts';
import { ACCESS_LOGS_DEFAULTS } from './access-logs-defaults.ts';

export interface AccessLogsBucketProps {
  /**
   * Days to keep access logs.
   * @default 90
   */
  readonly retentionDays?: number;
  /**
   * Days a deleted or expired log file stays recoverable (as a noncurrent version) before it is removed.
   * @default 30
   */
  readonly noncurrentRetentionDays?: number;
}

/**
 * The bucket that receives the load balancer's access logs and the other buckets' server access logs:
 * SSE-S3 (the only encryption ALB log delivery supports), versioned, TLS only, never public, kept
 * when the stack is deleted.
 */
export class AccessLogsBucket extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AccessLogsBucketProps = {}) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      // Versioned (CT.S3.PR.11): a log deleted or overwritten by mistake, or by someone covering their
      // tracks, stays recoverable for noncurrentRetentionDays. Log files are never overwritten, so the
      // cost is only that window: expired logs are kept that much longer (30 days of a 90-day
      // retention: about a third more storage at $0.023/GB-month).
      versioned: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          // With versioning, expiry leaves a delete marker and a noncurrent version, removed after the window.
          expiration: Duration.days(props.retentionDays ?? ACCESS_LOGS_DEFAULTS.retentionDays),
          noncurrentVersionExpiration: Duration.days(props.noncurrentRetentionDays ?? ACCESS_LOGS_DEFAULTS.noncurrentRetentionDays),
        },
        // S3 refuses ExpiredObjectDeleteMarker beside a Days expiration: a rule of its own clears the markers.
        { expiredObjectDeleteMarker: true },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // Logs are evidence: they outlive the stack (deleting a non-empty bucket would fail anyway).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    publishBucketEventsToEventBridge(this.bucket);
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket itself: logging its own accesses into itself would log every log delivery, without end.',
    });
    acknowledgeControl(this.bucket, 'CT.S3.PR.2', 'this is the access-log bucket itself: logging its own accesses into itself would log every log delivery, without end.');
    acknowledgeControl(this.bucket, 'CT.S3.PR.10', 'ALB access-log delivery supports only SSE-S3 (a KMS-encrypted bucket receives no logs), so this bucket keeps SSE-S3; the artifact bucket uses a KMS key.');
    acknowledgeControl(this.bucket, 'CT.S3.PR.9', 'S3 does not deliver server access logs to a bucket with Object Lock, and this bucket receives the artifact bucket\'s; versioning (CT.S3.PR.11) keeps deleted logs recoverable instead.');
  }
}
