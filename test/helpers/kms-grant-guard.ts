// What AWS Control Tower's CT.KMS.PR.3 asks of every KMS key policy, spelt out once for the tests of
// each key: deny kms:CreateGrant to everyone unless the grant is for an AWS resource or the caller is
// an AWS service (both conditions false, with BoolIfExists).
export const denyGrantsExceptForAwsServices = {
  Sid: 'DenyGrantsExceptForAwsResources',
  Effect: 'Deny',
  Principal: { AWS: '*' },
  Action: 'kms:CreateGrant',
  Resource: '*',
  Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
};
