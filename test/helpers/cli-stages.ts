// `sluice release` and `sluice status` as a user runs them: runCli with the real adapters, against
// the simulated AWS control planes (virtual time) and the release table on dynalite.
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type AwsClients, runCli } from '../../lib/runtime/release/cli/run-cli.ts';
import { DynamoDbReleaseStore } from '../../lib/runtime/release/aws/dynamodb-release-store.ts';
import { type AwsSimulation, type AwsSimulationOptions, createAwsSimulation } from './aws-simulation/create-aws-simulation.ts';
import { type LocalDynamoDb, startDynalite } from './dynalite.ts';

export interface CliRun {
  readonly exitCode: number;
  /** Every line written, a multi-line write split into its lines. */
  readonly stdout: string[];
  readonly stderr: string[];
  /** Virtual time the command took. */
  readonly elapsedMs: number;
}

export interface CliStage {
  readonly sim: AwsSimulation;
  readonly stage: string;
  /** The stage's release table, for playing another release (holding the lock, queueing, history). */
  readonly store: DynamoDbReleaseStore;
  /** The file GITHUB_STEP_SUMMARY names when a run asks for it. */
  readonly summaryPath: string;
  /** Runs `sluice <argv> --stage <stage>` to completion in virtual time. */
  cli(argv: readonly string[], options?: { readonly env?: Record<string, string>; readonly clients?: Partial<AwsClients> }): Promise<CliRun>;
}

/**
 * Starts dynalite and a folder for job summaries for the test file (vitest hooks), and returns
 * `deployedStage`: a deployed stage of its own (stack, fleet, release table) per call, so tests
 * never share a lock or history. Every stage is torn down after its test.
 */
export function useCliStages(): (options?: AwsSimulationOptions) => Promise<CliStage> {
  let dynamo: LocalDynamoDb;
  let summaries: string;
  let stages = 0;
  const cleanups: (() => void)[] = [];

  beforeAll(async () => {
    dynamo = await startDynalite();
    summaries = await mkdtemp(join(tmpdir(), 'sluice-run-cli-'));
  });
  afterAll(async () => {
    await dynamo.stop();
    await rm(summaries, { recursive: true, force: true });
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  return async (options = {}) => {
    const stage = `cli${++stages}`;
    const sim = createAwsSimulation({ stage, ...options });
    await dynamo.createReleaseTable(sim.names.releaseTableName);
    const dynamoDb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
    // dynalite answers in real time: virtual time stands still while a request is in flight. A
    // middleware rather than a wrapped send(), because the CLI talks through a DynamoDBDocumentClient
    // built on this client's middleware stack.
    dynamoDb.middlewareStack.add((next) => (args) => sim.clock.io(() => next(args)), { step: 'initialize', name: 'releaseTableIsRealIo' });
    cleanups.push(() => sim.restore(), () => dynamoDb.destroy());
    const summaryPath = join(summaries, `${stage}.md`);
    return {
      sim,
      stage,
      store: new DynamoDbReleaseStore({ client: dynamo.documentClient, tableName: sim.names.releaseTableName }),
      summaryPath,
      async cli(argv, { env = {}, clients = {} } = {}) {
        const stdout: string[] = [];
        const stderr: string[] = [];
        const { value: exitCode, elapsedMs } = await sim.timed(runCli([...argv, '--stage', stage], {
          clients: () => ({ ...sim.clients, dynamoDb, ...clients }),
          clock: sim.clock,
          env,
          stdout: (text) => stdout.push(...text.split('\n')),
          stderr: (text) => stderr.push(...text.split('\n')),
          appendSummary: (path, markdown) => sim.clock.io(() => appendFile(path, markdown)),
        }));
        return { exitCode, stdout, stderr, elapsedMs };
      },
    };
  };
}
