import { STAGE_NAME_PATTERN } from '../../runtime/stack-contract.ts';
import { SettingsProblems } from '../settings-validation.ts';
import type { GithubOidcProps } from './github-oidc.ts';

/** GitHub's rules: an owner of up to 39 letters, digits or "-"; a repository of up to 100 letters, digits, ".", "_" or "-". */
const REPOSITORY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/;

/** An account has one provider per URL; only GitHub's can be imported. */
const PROVIDER_ARN_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/;

/** What `cdk bootstrap --qualifier` accepts. */
const QUALIFIER_PATTERN = /^[A-Za-z0-9_-]{1,10}$/;

/**
 * A branch or environment name is compared with StringEquals: a wildcard would not widen the trust
 * but silently match nothing, and ":" would make a subject that GitHub never issues.
 */
const EXACT_NAME_PATTERN = /^[^*?:\s][^*?:]{0,254}$/;

/** Every problem with the GitHub OIDC construct's settings. */
export function validateGithubOidcSettings(props: GithubOidcProps): string[] {
  const check = new SettingsProblems();
  check.matches('githubRepository', props.githubRepository, REPOSITORY_PATTERN, 'owner/name, as in https://github.com/owner/name');
  check.matches(
    'githubOidcProviderArn',
    props.githubOidcProviderArn,
    PROVIDER_ARN_PATTERN,
    "the ARN of the account's GitHub provider, arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com",
  );
  check.check(props.stages.length > 0, 'stages must name at least one stage (given none)');
  for (const stage of props.stages) {
    check.matches('stages', stage, STAGE_NAME_PATTERN, 'stage names of 1 to 20 lower-case letters, digits or "-", starting with a letter');
  }
  const repeated = props.stages.filter((stage, index) => props.stages.indexOf(stage) !== index);
  check.check(repeated.length === 0, `stages must name each stage once (given ${repeated.map((stage) => `"${stage}"`).join(', ')} more than once)`);
  check.matches('deployBranch', props.deployBranch, EXACT_NAME_PATTERN, 'one branch name, without wildcards or ":"');
  for (const environment of props.deployEnvironments ?? []) {
    check.matches('deployEnvironments', environment, EXACT_NAME_PATTERN, 'GitHub environment names, without wildcards or ":"');
  }
  check.matches('bootstrapQualifier', props.bootstrapQualifier, QUALIFIER_PATTERN, 'the qualifier given to cdk bootstrap: 1 to 10 letters, digits, "_" or "-"');
  // IAM allows 1 to 12 hours. The release's own calls run in this session; a deploy chains into the
  // CDK bootstrap roles, whose sessions last at most 1 hour whatever this says.
  check.hoursInRange('maxSessionDuration', props.maxSessionDuration, 1, 12);
  return [...check.list];
}

