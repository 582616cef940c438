import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { resolveStageConfig } from '../../lib/config/resolve-stage-config.ts';
import { StageConfigError } from '../../lib/config/stage-config.ts';
import { stages } from '../../lib/config/stages.ts';

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof StageConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a StageConfigError');
}

describe('resolveStageConfig', () => {
  it('defaults to the dev stage', () => {
    expect(resolveStageConfig().stageName).toBe('dev');
    expect(resolveStageConfig(undefined).stageName).toBe('dev');
  });

  it('returns every defined stage as it is defined', () => {
    for (const [name, config] of Object.entries(stages)) {
      expect(resolveStageConfig(name)).toEqual(config);
    }
    expect(resolveStageConfig('prod').protectData).toBe(true);
    expect(resolveStageConfig('dev').protectData).toBe(false);
  });

  it('names the known stages when the stage is unknown', () => {
    expect(() => resolveStageConfig('nope')).toThrow('Unknown stage "nope". Known stages: dev, prod. Choose one with -c stage=NAME.');
    expect(() => resolveStageConfig('toString')).toThrow(/Unknown stage "toString"/);
  });

  it('lists every problem in one error, each with the setting, the range and the value', () => {
    const problems = problemsOf(() =>
      resolveStageConfig('dev', {
        deregistrationDelay: '4000',
        minCapacity: '1',
        maxReceiveCount: '0',
        healthCheckInterval: '2s',
        streamRetention: '12h',
        alarmEmail: 'not-an-address',
      }),
    );
    expect(problems).toEqual([
      'minCapacity must be a whole number between 2 and 100 (given 1)',
      'healthCheckInterval must be between 5 and 300 seconds (given 2)',
      'healthCheckTimeout must be less than healthCheckInterval (2 seconds) (given 4)',
      'deregistrationDelay must be between 0 and 3600 seconds (given 4000)',
      'maxReceiveCount must be a whole number between 1 and 1000 (given 0)',
      'streamRetention must be a whole number of hours between 24 and 8760 (given 12 hours)',
      'alarmEmail must be an e-mail address such as ops@example.com (given "not-an-address")',
    ]);
  });

  it('reads the log retention and the new alarm settings from -c, and refuses a retention CloudWatch does not offer', () => {
    const config = resolveStageConfig('prod', { logRetention: '3653', jobFailureRateThreshold: '2.5', jobsStalledAfter: '15m', latencyAnomalyBandWidth: '4' });
    expect(config).toMatchObject({ logRetention: 3653, jobFailureRateThreshold: 2.5, latencyAnomalyBandWidth: 4 });
    expect(config.jobsStalledAfter?.toMinutes()).toBe(15);
    expect(problemsOf(() => resolveStageConfig('dev', { logRetention: '100', streamFailureRateThreshold: '-1' }))).toEqual([
      'streamFailureRateThreshold must be between 0 and 100 percent (given -1)',
      'logRetention must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 days, the periods CloudWatch Logs allows (given 100)',
    ]);
  });

  it('puts the list in the error message', () => {
    expect(() => resolveStageConfig('prod', { deregistrationDelay: 4000, appPort: 80 })).toThrow(
      'Invalid configuration for stage "prod":\n'
        + '  - appPort must be a whole number between 1024 and 65535 (given 80)\n'
        + '  - deregistrationDelay must be between 0 and 3600 seconds (given 4000)',
    );
  });

  it('reports overrides it cannot read, next to the range problems', () => {
    expect(problemsOf(() => resolveStageConfig('dev', { maxReceiveCount: 'abc', deregistrationDelay: 'soon', protectData: 'yes', minCapacity: 1 }))).toEqual([
      'protectData must be true or false (given "yes")',
      'deregistrationDelay must be a duration such as 30, 30s, 5m, 2h or 7d (given "soon")',
      'maxReceiveCount must be a whole number (given "abc")',
      'minCapacity must be a whole number between 2 and 100 (given 1)',
    ]);
  });

  it('refuses an unknown setting, suggesting the closest one and listing every valid one, next to the other problems', () => {
    const valid = 'stage, protectData, queueConsumer, streamConsumer, externalApiUrl, instanceTypes, detailedMonitoring, amiId, minCapacity, desiredCapacity, maxCapacity, appPort, healthCheckPath, '
      + 'healthCheckInterval, healthCheckTimeout, healthyThreshold, unhealthyThreshold, deregistrationDelay, healthCheckGracePeriod, '
      + 'workerStopTimeout, installHealthTimeout, instanceReadyTimeout, natGateways, certificateArn, queueVisibilityTimeout, maxReceiveCount, queueRetention, '
      + 'streamMode, shardCount, streamRetention, elb5xxRateThreshold, target5xxRateThreshold, responseTimeP99Threshold, minHealthyHosts, '
      + 'queueMessageAgeThreshold, streamIteratorAgeThreshold, jobFailureRateThreshold, streamFailureRateThreshold, jobsStalledAfter, latencyAnomalyBandWidth, alarmEmail, logRetention, artifactInfrequentAccessDays, artifactNoncurrentRetentionDays, '
      + 'database, databaseInstanceType, databaseAllocatedStorage, databaseMaxAllocatedStorage, databaseMultiAz, databaseBackupRetention, '
      + 'databaseCpuThreshold, databaseFreeStorageThreshold, databaseConnectionsThreshold, flagsRolloutDuration, flagsRolloutGrowthFactor, flagsRolloutBakeTime, webFirewall, webFirewallRateLimit, blockedRequestsThreshold, githubRepository, githubOidcProviderArn';
    expect(problemsOf(() => resolveStageConfig('dev', { minCapacty: '3', colour: 'blue', maxReceiveCount: '0' }))).toEqual([
      `unknown setting "minCapacty": did you mean "minCapacity"? (valid settings: ${valid})`,
      `unknown setting "colour": remove it or use a valid setting (valid settings: ${valid})`,
      'maxReceiveCount must be a whole number between 1 and 1000 (given 0)',
    ]);
    expect(problemsOf(() => resolveStageConfig('dev', { Stage: 'prod', stageName: 'prod' }))).toEqual([
      `unknown setting "Stage": did you mean "stage"? (valid settings: ${valid})`,
      `unknown setting "stageName": remove it or use a valid setting (valid settings: ${valid})`,
    ]);
  });

  it('leaves the context the CDK itself passes alone: feature flags, aws:cdk:*, cached lookups and the CLI\'s own keys', () => {
    expect(resolveStageConfig('dev', {
      stage: 'dev',
      '@aws-cdk/core:enablePartitionLiterals': true,
      'aws:cdk:bundling-stacks': ['**'],
      'aws:cdk:version-reporting': true,
      'availability-zones:account=123456789012:region=eu-west-1': ['eu-west-1a'],
      'acknowledged-issue-numbers': [34892],
      'cli-telemetry': false,
      'assets-ecr-repository-name': 'assets',
      minCapacity: '3',
    })).toMatchObject({ stageName: 'dev', minCapacity: 3 });
  });

  it('reads durations in seconds or with a unit', () => {
    const config = resolveStageConfig('dev', {
      deregistrationDelay: '45',
      healthCheckInterval: '10s',
      queueRetention: '2d',
      streamRetention: '48h',
      queueMessageAgeThreshold: '10m',
      responseTimeP99Threshold: '750ms',
    });
    expect(config.deregistrationDelay?.toSeconds()).toBe(45);
    expect(config.healthCheckInterval?.toSeconds()).toBe(10);
    expect(config.queueRetention?.toDays()).toBe(2);
    expect(config.streamRetention?.toHours()).toBe(48);
    expect(config.queueMessageAgeThreshold?.toMinutes()).toBe(10);
    expect(config.responseTimeP99Threshold?.toMilliseconds()).toBe(750);
  });

  it('reads the feature flags\' rollout strategy, and reports each setting AppConfig would refuse', () => {
    const config = resolveStageConfig('dev', { flagsRolloutDuration: '10m', flagsRolloutGrowthFactor: '20', flagsRolloutBakeTime: '1h' });
    expect(config.flagsRolloutDuration?.toMinutes()).toBe(10);
    expect(config.flagsRolloutGrowthFactor).toBe(20);
    expect(config.flagsRolloutBakeTime?.toMinutes()).toBe(60);
    expect(() => resolveStageConfig('dev', { flagsRolloutDuration: '30s', flagsRolloutGrowthFactor: '150', flagsRolloutBakeTime: '2d' })).toThrow([
      'Invalid configuration for stage "dev":',
      '  - flagsRolloutDuration must be a whole number of minutes between 0 and 1440 (given 30 seconds)',
      '  - flagsRolloutBakeTime must be a whole number of minutes between 0 and 1440 (given 2 days)',
      '  - flagsRolloutGrowthFactor must be between 1 and 100 percent (given 150)',
    ].join('\n'));
  });

  it('reads a list as comma-separated text or a JSON array, and the web firewall settings', () => {
    expect(resolveStageConfig('dev', { instanceTypes: ' m7i.large , m6i.large' }).instanceTypes).toEqual(['m7i.large', 'm6i.large']);
    expect(resolveStageConfig('dev', { instanceTypes: ['c7i.large', 'c6i.large'] }).instanceTypes).toEqual(['c7i.large', 'c6i.large']);
    expect(resolveStageConfig('dev', { webFirewall: 'true', webFirewallRateLimit: '500', blockedRequestsThreshold: '50' }))
      .toMatchObject({ webFirewall: true, webFirewallRateLimit: 500, blockedRequestsThreshold: 50 });
    expect(problemsOf(() => resolveStageConfig('dev', { instanceTypes: 't3.small', webFirewallRateLimit: '1', detailedMonitoring: 'yes' }))).toEqual([
      'detailedMonitoring must be true or false (given "yes")',
      'instanceTypes must list between 2 and 40 EC2 instance types of the same size, so that the group still launches when one type is short in an AZ, e.g. ["t3.small", "t3a.small"] (given ["t3.small"])',
      'webFirewallRateLimit must be a whole number between 10 and 2000000000 requests per 5 minutes per IP address (given 1)',
    ]);
  });

  it('turns the web firewall and detailed monitoring on in prod, with two equivalent instance types', () => {
    expect(resolveStageConfig('prod')).toMatchObject({ webFirewall: true, detailedMonitoring: true, instanceTypes: ['t3.medium', 't3a.medium'] });
    expect(resolveStageConfig('dev').webFirewall).toBeUndefined();
  });

  it('reads numbers, booleans and text, from the command line (strings) or cdk.json (JSON values)', () => {
    const config = resolveStageConfig('dev', {
      minCapacity: '3',
      maxCapacity: 6,
      protectData: true,
      elb5xxRateThreshold: '0.5',
      instanceTypes: 'm7i.large,m6i.large',
      streamMode: 'PROVISIONED',
      shardCount: '4',
    });
    expect(config).toMatchObject({ minCapacity: 3, maxCapacity: 6, protectData: true, elb5xxRateThreshold: 0.5, instanceTypes: ['m7i.large', 'm6i.large'], streamMode: 'PROVISIONED', shardCount: 4 });
  });

  it('checks settings against each other', () => {
    expect(problemsOf(() => resolveStageConfig('dev', {
      minCapacity: 4,
      maxCapacity: 3,
      desiredCapacity: 5,
      healthCheckInterval: 5,
      healthCheckTimeout: 5,
      shardCount: 2,
      minHealthyHosts: 6,
    }))).toEqual([
      'maxCapacity must be more than minCapacity (4), so a rolling update can launch a replacement before it terminates an instance (given 3)',
      'desiredCapacity must be between minCapacity (4) and maxCapacity (3) (given 5)',
      'healthCheckTimeout must be less than healthCheckInterval (5 seconds) (given 5)',
      'shardCount applies only when streamMode is PROVISIONED (given 2 with ON_DEMAND); remove it or set streamMode to PROVISIONED',
      'minHealthyHosts must be at most minCapacity (4), or the healthy-hosts alarm fires whenever the group is at its minimum (given 6)',
    ]);
  });

  it('chooses what consumes the queue', () => {
    expect(resolveStageConfig('dev', { queueConsumer: 'lambda' }).queueConsumer).toBe('lambda');
    expect(problemsOf(() => resolveStageConfig('dev', { queueConsumer: 'kafka' }))).toEqual([
      'queueConsumer must be one of instances, lambda, both (given "kafka")',
    ]);
  });

  it('chooses what reads the stream, instances by default, reporting a bad choice with every other problem', () => {
    expect(resolveStageConfig('dev').streamConsumer).toBeUndefined();
    expect(resolveStageConfig('dev', { streamConsumer: 'lambda' }).streamConsumer).toBe('lambda');
    expect(resolveStageConfig('dev', { streamConsumer: ' both ' }).streamConsumer).toBe('both');
    expect(problemsOf(() => resolveStageConfig('dev', { streamConsumer: 'kcl', queueConsumer: 'sqs', maxReceiveCount: '0', streamConsumr: 'lambda' }))).toEqual([
      expect.stringMatching(/^unknown setting "streamConsumr": did you mean "streamConsumer"\?/),
      'maxReceiveCount must be a whole number between 1 and 1000 (given 0)',
      'queueConsumer must be one of instances, lambda, both (given "sqs")',
      'streamConsumer must be one of instances, lambda, both (given "kcl")',
    ]);
  });

  it('takes the work handler\'s external API as an https URL, none by default', () => {
    expect(resolveStageConfig('dev').externalApiUrl).toBeUndefined();
    expect(resolveStageConfig('dev', { externalApiUrl: 'https://api.example.com/v1/jobs?tenant=7' }).externalApiUrl).toBe('https://api.example.com/v1/jobs?tenant=7');
  });

  it('refuses an external API URL that is not plain https, with every other problem', () => {
    expect(problemsOf(() => resolveStageConfig('dev', { externalApiUrl: 'http://api.example.com/jobs', maxReceiveCount: '0' }))).toEqual([
      'maxReceiveCount must be a whole number between 1 and 1000 (given 0)',
      'externalApiUrl must be an https URL: jobs leave the VPC for the internet (given "http://api.example.com/jobs")',
    ]);
    const refusals: [string, string][] = [
      ['api.example.com/jobs', 'externalApiUrl must be an absolute https URL such as https://api.example.com/jobs (given "api.example.com/jobs")'],
      ['https://api.example.com/a b', 'externalApiUrl must be printable ASCII without spaces, quotes, backslashes, "$" or "`" (percent-encode the rest) (given "https://api.example.com/a b")'],
      ['https://api.example.com/$HOME', 'externalApiUrl must be printable ASCII without spaces, quotes, backslashes, "$" or "`" (percent-encode the rest) (given "https://api.example.com/$HOME")'],
      ['https://api.example.com/\nSLUICE_EOF', 'externalApiUrl must be printable ASCII without spaces, quotes, backslashes, "$" or "`" (percent-encode the rest) (given "https://api.example.com/\\nSLUICE_EOF")'],
      ['https://bot:s3cret@api.example.com/jobs', 'externalApiUrl must not hold a user name or password: the URL is written into the instances\' user data in plain text (given a URL with credentials)'],
    ];
    for (const [externalApiUrl, problem] of refusals) {
      expect(problemsOf(() => resolveStageConfig('dev', { externalApiUrl }))).toEqual([problem]);
    }
  });

  it('rejects fractions where whole units are needed', () => {
    expect(problemsOf(() => resolveStageConfig('dev', { deregistrationDelay: '1.5', maxReceiveCount: '2.5', streamMode: 'FAST', certificateArn: 'my-cert' }))).toEqual([
      'deregistrationDelay must be a whole number of seconds (given 1.5 seconds)',
      'certificateArn must be an ACM certificate ARN such as arn:aws:acm:eu-west-1:123456789012:certificate/… (given "my-cert")',
      'maxReceiveCount must be a whole number between 1 and 1000 (given 2.5)',
      'streamMode must be one of PROVISIONED, ON_DEMAND (given "FAST")',
    ]);
  });

  it('pins the AMI with amiId, reporting a malformed one with every other problem', () => {
    expect(resolveStageConfig('prod', { amiId: 'ami-0123456789abcdef0' }).amiId).toBe('ami-0123456789abcdef0');
    expect(resolveStageConfig('dev', { amiId: 'ami-1234abcd' }).amiId).toBe('ami-1234abcd');
    expect(resolveStageConfig('dev').amiId).toBeUndefined();
    expect(problemsOf(() => resolveStageConfig('dev', { amiId: 'ubuntu-22.04', instanceReadyTimeout: '2h', maxReceiveCount: 0 }))).toEqual([
      'amiId must be an AMI id: "ami-" and 8 or 17 lower-case hex digits (given "ubuntu-22.04")',
      'instanceReadyTimeout must be between 60 and 3600 seconds (given 7200)',
      'maxReceiveCount must be a whole number between 1 and 1000 (given 0)',
    ]);
  });

  it('accepts every boundary of every range', () => {
    expect(() => resolveStageConfig('dev', {
      deregistrationDelay: 0, healthCheckInterval: 300, healthCheckTimeout: 120, healthyThreshold: 10, unhealthyThreshold: 2,
      queueVisibilityTimeout: 43200, maxReceiveCount: 1000, queueRetention: 60, streamRetention: '8760h', appPort: 65535,
      // The slowest health checks need the longest time to turn healthy before the signal.
      instanceReadyTimeout: '1h',
    })).not.toThrow();
    expect(() => resolveStageConfig('dev', { instanceReadyTimeout: 60, installHealthTimeout: 5, minCapacity: 99, maxCapacity: 100 })).not.toThrow();
    expect(resolveStageConfig('dev', { deregistrationDelay: '3600' }).deregistrationDelay).toEqual(Duration.seconds(3600));
  });
});
