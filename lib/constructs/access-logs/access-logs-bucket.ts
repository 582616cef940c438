import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ACCESS_LOGS_DEFAULTS } from './access-logs-defaults.ts';

export interface AccessLogsBucketProps {
  /**
   * Days to keep access logs.
   * @default 90
   */
  readonly retentionDays?: number;
}

/**
 * The bucket that receives the load balancer's access logs and the other buckets' server access logs:
 * SSE-S3 (the only encryption ALB log delivery supports), TLS only, never public, kept when the
 * stack is deleted.
 */
export class AccessLogsBucket extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AccessLogsBucketProps = {}) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { expiration: Duration.days(props.retentionDays ?? ACCESS_LOGS_DEFAULTS.retentionDays) },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // Logs are evidence: they outlive the stack (deleting a non-empty bucket would fail anyway).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket itself: logging its own accesses into itself would log every log delivery, without end.',
    });
  }
}
