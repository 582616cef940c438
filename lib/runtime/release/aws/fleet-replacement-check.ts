import { type AutoScalingClient, DescribeInstanceRefreshesCommand, type InstanceRefresh } from '@aws-sdk/client-auto-scaling';
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { type Clock, systemClock } from '../../clock.ts';
import { ReleaseError } from '../errors.ts';
import { callAws, type RetryPolicy } from './aws-call.ts';

/**
 * A deploy or an instance refresh is replacing the group's instances, so a release must not start;
 * nothing was changed. Both would move the same instances, and a deploy's rolling update suspends
 * the processes a release suspends: whichever ends first would resume them under the other.
 */
export class FleetReplacingError extends ReleaseError {
  constructor(readonly activity: string, readonly whatToDo: string) {
    super(`a release cannot start now: ${activity}. ${whatToDo}, then rerun sluice release`, 'FleetReplacing');
    this.name = 'FleetReplacingError';
  }
}

export interface FleetReplacement {
  /** What replaces the instances, e.g. `stack sluice-dev is UPDATE_IN_PROGRESS: a deploy is running, …`. */
  readonly activity: string;
  /** What the user should do, with a command to watch it. */
  readonly whatToDo: string;
}

export interface FleetReplacementCheckProps {
  readonly cloudFormation: CloudFormationClient;
  readonly autoScaling: AutoScalingClient;
  /** The stage's stack, whose deploys roll the group's instances. */
  readonly stackName: string;
  readonly autoScalingGroupName: string;
  /** Waits between throttled retries. @default systemClock */
  readonly clock?: Clock;
  /** @default - see RetryPolicy */
  readonly retry?: RetryPolicy;
}

/**
 * Instance refreshes that still replace or may replace instances. Pending, InProgress, Baking and
 * Cancelling ones have not finished; RollbackInProgress replaces instances back.
 */
const ACTIVE_REFRESH = new Set(['Pending', 'InProgress', 'Baking', 'Cancelling', 'RollbackInProgress']);

/**
 * Whether a deploy or an instance refresh is replacing the group's instances.
 *
 * A CloudFormation rolling update has no API of its own: it runs while the stack is
 * UPDATE_IN_PROGRESS (or UPDATE_ROLLBACK_IN_PROGRESS, rolling back), including the pauses in which
 * CloudFormation waits for a new instance's signal and no scaling activity is in progress. So any
 * stack operation in progress counts, which also keeps a deploy and a release from running at once
 * before the update reaches the group. Instance refreshes started outside CloudFormation are listed
 * by DescribeInstanceRefreshes.
 */
export class FleetReplacementCheck {
  private readonly props: FleetReplacementCheckProps;

  constructor(props: FleetReplacementCheckProps) {
    this.props = props;
  }

  /** What replaces the group's instances right now, if anything. */
  async replacement(signal?: AbortSignal): Promise<FleetReplacement | undefined> {
    return (await this.stackOperation(signal)) ?? (await this.instanceRefresh(signal));
  }

  /** Throws FleetReplacingError while something replaces the group's instances. */
  async refuseWhileReplacing(signal?: AbortSignal): Promise<void> {
    const replacement = await this.replacement(signal);
    if (replacement) throw new FleetReplacingError(replacement.activity, replacement.whatToDo);
  }

  private async stackOperation(signal?: AbortSignal): Promise<FleetReplacement | undefined> {
    const { cloudFormation, stackName, autoScalingGroupName } = this.props;
    const missing = (error: unknown) => error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message);
    let status: string | undefined;
    try {
      const response = await callAws(
        { ...this.call('DescribeStacks', `stack ${stackName}`, signal), expected: missing },
        (abortSignal) => cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }), { abortSignal }),
      );
      status = response.Stacks?.[0]?.StackStatus;
    } catch (error) {
      // No stack (every output given as a flag): no deploy of it can be running.
      if (missing(error)) return undefined;
      throw error;
    }
    // REVIEW_IN_PROGRESS is a stack created from a change set that was never executed: nothing runs.
    if (status === undefined || !status.endsWith('_IN_PROGRESS') || status === 'REVIEW_IN_PROGRESS') return undefined;
    return {
      activity: `stack ${stackName} is ${status}: a deploy is running, and its rolling update replaces the instances of ${autoScalingGroupName}`,
      whatToDo: `Wait for the deploy to finish (aws cloudformation describe-stacks --stack-name ${stackName} --query 'Stacks[0].StackStatus')`,
    };
  }

  /** Newest first, and one refresh at a time: the first active one is the only one. */
  private async instanceRefresh(signal?: AbortSignal): Promise<FleetReplacement | undefined> {
    const { autoScaling, autoScalingGroupName } = this.props;
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const page = await callAws(this.call('DescribeInstanceRefreshes', `Auto Scaling group ${autoScalingGroupName}`, signal), (abortSignal) =>
        autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: autoScalingGroupName, MaxRecords: 100, NextToken: token }), { abortSignal }),
      );
      const active = page.InstanceRefreshes?.find((refresh) => ACTIVE_REFRESH.has(refresh.Status ?? ''));
      if (active) return describeRefresh(active, autoScalingGroupName);
      nextToken = page.NextToken;
    } while (nextToken);
    return undefined;
  }

  private call(operation: string, subject: string, signal: AbortSignal | undefined) {
    const hint = 'check the stack outputs AutoScalingGroupName, the stack name and the AWS region, then rerun';
    return { clock: this.props.clock ?? systemClock, operation, subject, hint, signal, retry: this.props.retry };
  }
}

function describeRefresh(refresh: InstanceRefresh, groupName: string): FleetReplacement {
  const progress = refresh.PercentageComplete === undefined ? '' : `, ${refresh.PercentageComplete}% done`;
  return {
    activity: `instance refresh ${refresh.InstanceRefreshId ?? '?'} of ${groupName} is ${refresh.Status}${progress}`,
    whatToDo: `Wait for it to finish (aws autoscaling describe-instance-refreshes --auto-scaling-group-name ${groupName})`,
  };
}
