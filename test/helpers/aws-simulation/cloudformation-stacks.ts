import type { DescribeStacksCommandOutput, Stack } from '@aws-sdk/client-cloudformation';
import { awsError } from './aws-errors.ts';

/** Deployed CloudFormation stacks, by name, with their outputs. */
export class SimulatedStacks {
  private readonly stacks = new Map<string, Record<string, string>>();

  constructor(private readonly region: string, private readonly account: string) {}

  deploy(name: string, outputs: Record<string, string>): void {
    this.stacks.set(name, { ...outputs });
  }

  delete(name: string): void {
    this.stacks.delete(name);
  }

  describe(name: string | undefined): DescribeStacksCommandOutput {
    const names = name === undefined ? [...this.stacks.keys()] : [name];
    const missing = names.find((candidate) => !this.stacks.has(candidate));
    // What AWS answers for a stack that does not exist (or was deleted).
    if (missing !== undefined) throw awsError('cloudFormation', 'ValidationError', `Stack with id ${missing} does not exist`);
    return { $metadata: {}, Stacks: names.map((stackName) => this.stack(stackName)) };
  }

  private stack(name: string): Stack {
    return {
      StackName: name,
      StackId: `arn:aws:cloudformation:${this.region}:${this.account}:stack/${name}/00000000-0000-4000-8000-000000000000`,
      StackStatus: 'UPDATE_COMPLETE',
      CreationTime: new Date(0),
      Outputs: Object.entries(this.stacks.get(name) ?? {}).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
    };
  }
}
