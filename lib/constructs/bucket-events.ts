import type * as s3 from 'aws-cdk-lib/aws-s3';

/**
 * Turns on S3 event notifications to EventBridge (AWS Control Tower CT.S3.PR.4), on the bucket
 * itself: S3 publishes to the default event bus at no charge, so a rule can react to an object
 * arriving (a release artifact, a log file) without a change here. The L1 property rather than
 * `eventBridgeEnabled`, which would add a custom-resource Lambda to do the same.
 */
export function publishBucketEventsToEventBridge(bucket: s3.Bucket): void {
  (bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
}
