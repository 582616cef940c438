import { Duration } from 'aws-cdk-lib';
import type { GithubOidcSettings } from './github-oidc.ts';

/** GitHub's OIDC issuer: the `iss` of every Actions token. */
export const GITHUB_OIDC_URL = 'https://token.actions.githubusercontent.com';

/** The audience `aws-actions/configure-aws-credentials` asks for, and the only one the roles accept. */
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';

/** The GitHub OIDC construct's defaults. Why each value: see GithubOidcSettings. */
export const GITHUB_OIDC_DEFAULTS: Readonly<Required<GithubOidcSettings>> = {
  deployBranch: 'main',
  deployEnvironments: ['prod'],
  bootstrapQualifier: 'hnb659fds',
  maxSessionDuration: Duration.hours(1),
};
