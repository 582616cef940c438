// A stage's feature flags in simulation: AppConfig (control and data plane), the CloudWatch alarms
// its monitor and `sluice flags ramp` watch, and the stack outputs the CLI reads, behind real SDK
// clients (aws-sdk-client-mock), all on one virtual clock. Each call takes `callLatencyMs` of it.
import {
  AppConfigClient,
  CreateHostedConfigurationVersionCommand,
  GetDeploymentCommand,
  GetHostedConfigurationVersionCommand,
  ListDeploymentsCommand,
  StartDeploymentCommand,
  StopDeploymentCommand,
} from '@aws-sdk/client-appconfig';
import { AppConfigDataClient, GetLatestConfigurationCommand, StartConfigurationSessionCommand } from '@aws-sdk/client-appconfigdata';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { type SimulatedAlarmSpec, SimulatedAlarms } from '../aws-simulation/alarms.ts';
import { awsError } from '../aws-simulation/aws-errors.ts';
import { seededRandom } from '../aws-simulation/seeded-random.ts';
import { SimulationLog, type SimulationSnapshot } from '../aws-simulation/simulation-log.ts';
import { VirtualClock } from '../virtual-clock.ts';
import { SIMULATED_IDS, SimulatedAppConfig, type SimulatedStrategy } from './simulated-appconfig.ts';

export const GATE_ALARM = 'sluice-dev-release-gate';
export const ALL_AT_ONCE: SimulatedStrategy = { id: 'strat-all-at-once', durationMinutes: 0, growthFactor: 100, finalBakeMinutes: 0 };
/** 20 % of sessions every 2.5 minutes to 100 % in 10 minutes, then 5 minutes of bake. */
export const GRADUAL: SimulatedStrategy = { id: 'strat-gradual', durationMinutes: 10, growthFactor: 20, finalBakeMinutes: 5 };

/** The stack outputs of sluice-dev that the flags CLI reads. */
export const FLAGS_STACK_OUTPUTS = {
  FlagsApplicationId: SIMULATED_IDS.applicationId,
  FlagsEnvironmentId: SIMULATED_IDS.environmentId,
  FlagsConfigurationProfileId: SIMULATED_IDS.configurationProfileId,
  FlagsAllAtOnceStrategyId: ALL_AT_ONCE.id,
  FlagsGradualStrategyId: GRADUAL.id,
  ReleaseGateAlarmName: GATE_ALARM,
} as const;

export interface FlagsWorldOptions {
  /** The hosted document deployed by the stack (version 1). */
  readonly document: string;
  /** @default the release gate only, OK */
  readonly alarms?: readonly SimulatedAlarmSpec[];
  /** @default 50 */
  readonly callLatencyMs?: number;
  /** @default every output in FLAGS_STACK_OUTPUTS */
  readonly stackOutputs?: Readonly<Record<string, string>>;
  /** @default 7 */
  readonly seed?: number;
}

export interface AppConfigCall {
  readonly at: number;
  readonly operation: string;
  readonly input: unknown;
  readonly error?: string;
}

export interface FlagsWorld {
  readonly clock: VirtualClock;
  readonly appConfig: SimulatedAppConfig;
  readonly alarms: SimulatedAlarms;
  readonly clients: { readonly appConfig: AppConfigClient; readonly appConfigData: AppConfigDataClient; readonly cloudWatch: CloudWatchClient; readonly cloudFormation: CloudFormationClient };
  /** Control-plane and CloudWatch calls, in order. */
  readonly calls: AppConfigCall[];
  /** Another AppConfig Data client (another instance) on the same simulation. */
  readonly dataClient: () => AppConfigDataClient;
  readonly restore: () => void;
}

const clientConfig = { region: 'eu-west-1', maxAttempts: 1, credentials: { accessKeyId: 'AKIASIMULATION', secretAccessKey: 'simulation' } };

export function createFlagsWorld(options: FlagsWorldOptions): FlagsWorld {
  const clock = new VirtualClock();
  const random = seededRandom(options.seed ?? 7);
  const log: SimulationLog = new SimulationLog(clock, (): SimulationSnapshot => ({ at: clock.now(), instances: [], targets: [], suspendedProcesses: [], launchVersion: undefined, firingAlarms: alarms.firing() }));
  const alarms: SimulatedAlarms = new SimulatedAlarms({ clock, log, random }, options.alarms ?? [{ name: GATE_ALARM, type: 'composite' }], 100, 'eu-west-1', '123456789012');
  const appConfig = new SimulatedAppConfig({ clock, random, alarms, monitorAlarmNames: [GATE_ALARM], strategies: [ALL_AT_ONCE, GRADUAL], initialDocument: options.document });
  const calls: AppConfigCall[] = [];
  const latency = options.callLatencyMs ?? 50;
  const serve = <I, O>(operation: string, handler: (input: I) => O, record = true) => async (input: I): Promise<O> => {
    if (latency > 0) await clock.sleep(latency);
    try {
      const output = log.change(() => handler(input));
      if (record) calls.push({ at: clock.now(), operation, input });
      return output;
    } catch (error) {
      if (record) calls.push({ at: clock.now(), operation, input, error: (error as Error).name });
      throw error;
    }
  };
  const notSimulated = async (input: unknown) => {
    throw new Error(`the flags simulation does not model this command (input ${JSON.stringify(input)})`);
  };

  const clients = {
    appConfig: new AppConfigClient(clientConfig),
    appConfigData: new AppConfigDataClient(clientConfig),
    cloudWatch: new CloudWatchClient(clientConfig),
    cloudFormation: new CloudFormationClient(clientConfig),
  };
  const mocks: Array<{ restore: () => void }> = [];
  const control = mockClient(clients.appConfig);
  control.onAnyCommand().callsFake(notSimulated);
  control.on(CreateHostedConfigurationVersionCommand).callsFake(serve('CreateHostedConfigurationVersion', (input) => appConfig.createHostedConfigurationVersion(input)));
  control.on(GetHostedConfigurationVersionCommand).callsFake(serve('GetHostedConfigurationVersion', (input) => appConfig.getHostedConfigurationVersion(input)));
  control.on(ListDeploymentsCommand).callsFake(serve('ListDeployments', (input) => appConfig.listDeployments(input)));
  control.on(GetDeploymentCommand).callsFake(serve('GetDeployment', (input) => appConfig.getDeployment(input)));
  control.on(StartDeploymentCommand).callsFake(serve('StartDeployment', (input) => appConfig.startDeployment(input)));
  control.on(StopDeploymentCommand).callsFake(serve('StopDeployment', (input) => appConfig.stopDeployment(input)));
  mocks.push(control);

  const dataClient = (client = new AppConfigDataClient(clientConfig)) => {
    const data = mockClient(client);
    data.onAnyCommand().callsFake(notSimulated);
    data.on(StartConfigurationSessionCommand).callsFake(serve('StartConfigurationSession', (input) => appConfig.startConfigurationSession(input), false));
    data.on(GetLatestConfigurationCommand).callsFake(serve('GetLatestConfiguration', (input) => appConfig.getLatestConfiguration(input), false));
    mocks.push(data);
    return client;
  };
  dataClient(clients.appConfigData);

  const cloudWatch = mockClient(clients.cloudWatch);
  cloudWatch.onAnyCommand().callsFake(notSimulated);
  cloudWatch.on(DescribeAlarmsCommand).callsFake(serve('DescribeAlarms', (input) => alarms.describe(input)));
  mocks.push(cloudWatch);

  const cloudFormation = mockClient(clients.cloudFormation);
  cloudFormation.onAnyCommand().callsFake(notSimulated);
  cloudFormation.on(DescribeStacksCommand).callsFake(
    serve('DescribeStacks', (input: { StackName?: string }) => {
      if (input.StackName !== 'sluice-dev') throw awsError('cloudFormation', 'ValidationError', `Stack with id ${input.StackName} does not exist`);
      const outputs = options.stackOutputs ?? FLAGS_STACK_OUTPUTS;
      return { Stacks: [{ StackName: 'sluice-dev', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(0), Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })) }] };
    }),
  );
  mocks.push(cloudFormation);

  return { clock, appConfig, alarms, clients, calls, dataClient: () => dataClient(), restore: () => mocks.forEach((mock) => mock.restore()) };
}

/** A hosted FeatureFlags document with the given flags and values, as the stack would deploy it. */
export function hostedDocument(values: Record<string, { enabled: boolean; percentage?: number }>): string {
  const flags = Object.fromEntries(Object.entries(values).map(([name, value]) => [name, { name, ...(value.percentage !== undefined ? { attributes: { percentage: { constraints: { type: 'number', minimum: 0, maximum: 100 } } } } : {}) }]));
  return JSON.stringify({ version: '1', flags, values });
}
