import { describe, expect, it } from 'vitest';
import { resolveCiSettings } from '../../lib/config/ci-settings.ts';
import { resolveStageConfig } from '../../lib/config/resolve-stage-config.ts';
import { StageConfigError } from '../../lib/config/stage-config.ts';

const providerArn = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';

describe('resolveCiSettings', () => {
  it('leaves the CI stack out when no repository is given', () => {
    expect(resolveCiSettings({ stage: 'prod' }, ['dev', 'prod'])).toBeUndefined();
  });

  it('reads the repository and the provider to import from -c', () => {
    expect(resolveCiSettings({ githubRepository: ' octo-org/octo-repo ' }, ['dev', 'prod'])).toEqual({ githubRepository: 'octo-org/octo-repo' });
    expect(resolveCiSettings({ githubRepository: 'octo-org/octo-repo', githubOidcProviderArn: providerArn }, ['dev', 'prod']))
      .toEqual({ githubRepository: 'octo-org/octo-repo', githubOidcProviderArn: providerArn });
  });

  it('refuses a provider without a repository instead of ignoring it', () => {
    expect(() => resolveCiSettings({ githubOidcProviderArn: providerArn }, ['dev'])).toThrow(
      'Invalid CI stack settings:\n  - githubOidcProviderArn needs githubRepository: the provider is imported into the CI stack, which -c githubRepository=owner/name adds',
    );
  });

  it('refuses a stage whose stack would take the CI stack\'s name', () => {
    expect(() => resolveCiSettings({ githubRepository: 'octo-org/octo-repo' }, ['dev', 'ci'])).toThrow('stage "ci" would be the stack sluice-ci, the CI stack\'s name');
  });

  it('is accepted by the stage configuration as a setting, and a misspelling is caught', () => {
    expect(resolveStageConfig('dev', { githubRepository: 'octo-org/octo-repo', githubOidcProviderArn: providerArn }).stageName).toBe('dev');
    try {
      resolveStageConfig('dev', { githubRepositry: 'octo-org/octo-repo' });
      expect.unreachable('a misspelt CI setting must fail');
    } catch (error) {
      expect(error).toBeInstanceOf(StageConfigError);
      expect((error as StageConfigError).problems[0]).toMatch(/^unknown setting "githubRepositry": did you mean "githubRepository"\?/);
    }
  });
});
