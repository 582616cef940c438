import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';

/**
 * Denies kms:CreateGrant on `key` unless the grant is for an AWS resource or the caller is an AWS
 * service (AWS Control Tower CT.KMS.PR.3). A grant is a second, policy-free way into a key: anyone
 * allowed CreateGrant (the account root statement allows kms:*) could hand the key to any principal.
 * AWS services that need grants (EBS, RDS, S3 Bucket Keys) create them with GrantIsForAWSResource
 * true, so they keep working; none of sluice's own principals creates grants.
 */
export function allowGrantsForAwsServicesOnly(key: kms.Key): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyGrantsExceptForAwsResources',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    }),
  );
}
