import { describe, expect, it } from 'vitest';
import { AwsCallError, callAws } from '../../../../lib/runtime/release/aws/aws-call.ts';
import { isTransientAwsError } from '../../../../lib/runtime/transient-aws-error.ts';
import { awsError } from '../../../helpers/aws-simulation/aws-errors.ts';
import { VirtualClock } from '../../../helpers/virtual-clock.ts';

const call = (clock: VirtualClock) => ({
  clock,
  operation: 'DescribeTargetHealth',
  subject: 'target i-0abc',
  hint: 'check the target group ARN',
});

describe('callAws', () => {
  it('retries throttling with capped exponential back-off on the clock', async () => {
    const clock = new VirtualClock();
    const attempts: number[] = [];
    const result = await clock.run(
      callAws(call(clock), async () => {
        attempts.push(clock.now());
        if (attempts.length < 4) throw awsError('elbv2', 'Throttling', 'Rate exceeded');
        return 'ok';
      }),
    );
    expect(result).toBe('ok');
    expect(attempts.map((at) => at - attempts[0])).toEqual([0, 200, 600, 1400]);
  });

  it('explains an access problem with what to check', async () => {
    const clock = new VirtualClock();
    const error = await clock
      .run(callAws(call(clock), () => Promise.reject(awsError('elbv2', 'AccessDenied', 'User is not authorized', 403))))
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AwsCallError);
    expect(error).toMatchObject({ reasonCode: 'AccessDenied', operation: 'DescribeTargetHealth' });
    expect((error as Error).message).toBe(
      'DescribeTargetHealth for target i-0abc failed: AccessDenied: User is not authorized; check that the AWS credentials in use are valid and allow DescribeTargetHealth',
    );
  });

  it('passes expected errors and aborts through as they are', async () => {
    const clock = new VirtualClock();
    const missing = awsError('ssm', 'InvocationDoesNotExist', '');
    await expect(clock.run(callAws({ ...call(clock), expected: (error) => error === missing }, () => Promise.reject(missing)))).rejects.toBe(missing);
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await expect(
      clock.run(callAws({ ...call(clock), signal: controller.signal }, () => Promise.reject(awsError('elbv2', 'Throttling', 'Rate exceeded')))),
    ).rejects.toThrow('stopped');
  });

  it('knows transient errors from the rest', () => {
    expect(isTransientAwsError(awsError('s3', 'SlowDown', '', 503))).toBe(true);
    expect(isTransientAwsError(awsError('autoScaling', 'ResourceContention', '', 500))).toBe(true);
    expect(isTransientAwsError(awsError('elbv2', 'SomethingNew', '', 429))).toBe(true);
    expect(isTransientAwsError(awsError('elbv2', 'TargetGroupNotFoundException', ''))).toBe(false);
  });
});
