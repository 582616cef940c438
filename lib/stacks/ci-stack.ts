import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { GithubOidc, type GithubOidcProps } from '../constructs/github-oidc/github-oidc.ts';

export interface CiStackProps extends StackProps, GithubOidcProps {}

/**
 * What CI runs as: GitHub's OIDC provider and the pull-request and deploy roles of one repository.
 * Deployed once per account, before the first stage: `npx cdk deploy sluice-ci -c githubRepository=owner/name`.
 */
export class CiStack extends Stack {
  constructor(scope: Construct, id: string, props: CiStackProps) {
    super(scope, id, { ...props, description: `sluice CI: GitHub OIDC roles for ${props.githubRepository}` });

    const oidc = new GithubOidc(this, 'GithubOidc', props);

    // The repository variables the workflows read: AWS_PR_ROLE_ARN and AWS_DEPLOY_ROLE_ARN.
    new CfnOutput(this, 'PullRequestRoleArn', { value: oidc.pullRequestRole.roleArn, description: 'Repository variable AWS_PR_ROLE_ARN: cdk diff on pull requests' });
    new CfnOutput(this, 'DeployRoleArn', { value: oidc.deployRole.roleArn, description: 'Repository variable AWS_DEPLOY_ROLE_ARN: cdk deploy and sluice release on main and in the prod environment' });
    new CfnOutput(this, 'GithubOidcProviderArn', { value: oidc.provider.oidcProviderArn, description: 'Pass as -c githubOidcProviderArn=... to a second CI stack in this account' });
  }
}
