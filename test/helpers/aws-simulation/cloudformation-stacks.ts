import type { DescribeStacksCommandOutput, Stack, StackStatus } from '@aws-sdk/client-cloudformation';
import { awsError } from './aws-errors.ts';
import type { SimulationContext } from './simulation-context.ts';

interface SimulatedStack {
  readonly outputs: Record<string, string>;
  status: StackStatus;
  updatedAt?: number;
}

/** Deployed CloudFormation stacks, by name, with their outputs and status. */
export class SimulatedStacks {
  private readonly stacks = new Map<string, SimulatedStack>();

  constructor(private readonly context: SimulationContext, private readonly region: string, private readonly account: string) {}

  deploy(name: string, outputs: Record<string, string>): void {
    this.stacks.set(name, { outputs: { ...outputs }, status: 'UPDATE_COMPLETE' });
  }

  delete(name: string): void {
    this.stacks.delete(name);
  }

  status(name: string): StackStatus | undefined {
    return this.stacks.get(name)?.status;
  }

  /** A stack operation moves the stack to `status` (UPDATE_IN_PROGRESS, UPDATE_COMPLETE, …). */
  setStatus(name: string, status: StackStatus): void {
    const stack = this.stacks.get(name);
    if (!stack) throw new Error(`simulation: no stack ${name}`);
    if (stack.status === status) return;
    stack.status = status;
    stack.updatedAt = this.context.clock.now();
    this.context.log.record('cloudformation', name, status);
  }

  describe(name: string | undefined): DescribeStacksCommandOutput {
    const names = name === undefined ? [...this.stacks.keys()] : [name];
    const missing = names.find((candidate) => !this.stacks.has(candidate));
    // What AWS answers for a stack that does not exist (or was deleted).
    if (missing !== undefined) throw awsError('cloudFormation', 'ValidationError', `Stack with id ${missing} does not exist`);
    return { $metadata: {}, Stacks: names.map((stackName) => this.stack(stackName)) };
  }

  private stack(name: string): Stack {
    const stack = this.stacks.get(name);
    return {
      StackName: name,
      StackId: `arn:aws:cloudformation:${this.region}:${this.account}:stack/${name}/00000000-0000-4000-8000-000000000000`,
      StackStatus: stack?.status,
      CreationTime: new Date(0),
      ...(stack?.updatedAt === undefined ? {} : { LastUpdatedTime: new Date(stack.updatedAt) }),
      Outputs: Object.entries(stack?.outputs ?? {}).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
    };
  }
}
