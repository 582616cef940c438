import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { type Clock, systemClock } from '../../clock.ts';
import { BadInputError } from '../errors.ts';
import { callAws, type RetryPolicy } from './aws-call.ts';

export interface ReadStackOutputsOptions {
  /** Waits between throttled retries. @default systemClock */
  readonly clock?: Clock;
  readonly retry?: RetryPolicy;
  readonly signal?: AbortSignal;
}

/** The outputs of a deployed stage's stack, by output key (see StackOutputs). */
export async function readStackOutputs(
  client: CloudFormationClient,
  stackName: string,
  options: ReadStackOutputsOptions = {},
): Promise<Record<string, string>> {
  const missing = (error: unknown) => error instanceof Error && isMissingStack(error);
  try {
    const response = await callAws(
      {
        clock: options.clock ?? systemClock,
        operation: 'DescribeStacks',
        subject: `stack ${stackName}`,
        hint: 'check the AWS credentials and region, then rerun',
        signal: options.signal,
        retry: options.retry,
        expected: missing,
      },
      (abortSignal) => client.send(new DescribeStacksCommand({ StackName: stackName }), { abortSignal }),
    );
    const outputs: Record<string, string> = {};
    for (const output of response.Stacks?.[0]?.Outputs ?? []) {
      if (output.OutputKey && output.OutputValue !== undefined) outputs[output.OutputKey] = output.OutputValue;
    }
    return outputs;
  } catch (error) {
    if (!missing(error)) throw error;
    const region = await regionOf(client);
    const stage = stackName.startsWith('sluice-') ? stackName.slice('sluice-'.length) : '<stage>';
    throw new BadInputError(
      `stack ${stackName} not found in ${region}; deploy it with npx cdk deploy -c stage=${stage}, or pass every output as a flag`,
    );
  }
}

/** DescribeStacks answers a missing stack with ValidationError "Stack with id X does not exist". */
function isMissingStack(error: Error): boolean {
  return error.name === 'StackNotFoundException' || (error.name === 'ValidationError' && /does not exist/.test(error.message));
}

async function regionOf(client: CloudFormationClient): Promise<string> {
  try {
    return await client.config.region();
  } catch {
    return 'the configured region';
  }
}
