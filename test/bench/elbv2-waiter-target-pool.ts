// BENCHMARK BASELINE ONLY — do not use in a release. The same TargetPool as Elbv2TargetPool, but
// its waits are the SDK v3 waiters (waitUntilTargetDeregistered / waitUntilTargetInService), which
// poll at 15–120 s with back-off unless told otherwise. It exists so a benchmark can show what
// polling ourselves saves, against the waiters as they come and as a user could tune them.
//
// The waiters sleep with the global setTimeout and measure their own limit with Date.now(), not with
// the injected clock: in virtual time the global timers must be routed to the virtual clock, and the
// deadline is enforced here on the injected clock (an abort), not by the waiter's maxWaitTime.
import { waitUntilTargetDeregistered, waitUntilTargetInService } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DeadlineExceededError, TargetUnhealthyError } from '../../lib/runtime/release/errors.ts';
import { describeState, Elbv2TargetPool, type Elbv2TargetPoolProps } from '../../lib/runtime/release/aws/elbv2-target-pool.ts';

type TargetWaiter = typeof waitUntilTargetDeregistered;

/** The waiters' `minDelay` / `maxDelay` (WaiterConfiguration), in seconds. */
export interface WaiterDelays {
  readonly minDelaySeconds: number;
  readonly maxDelaySeconds: number;
}

/** What both ELBv2 target waiters use when not told otherwise (their generated serviceDefaults). */
export const SDK_DEFAULT_DELAYS: WaiterDelays = { minDelaySeconds: 15, maxDelaySeconds: 120 };

/**
 * The best a user can configure. @smithy/util-waiter (validateWaiterOptions) accepts any minDelay
 * > 0 with maxDelay ≥ minDelay and maxWaitTime > minDelay; WaiterConfiguration documents maxDelay
 * ≥ 1 s. The back-off reaches maxDelay after log2(maxDelay / minDelay) + 1 attempts, so with
 * maxDelay at its 1 s floor the waiter settles on one poll a second whatever smaller minDelay is
 * chosen (that would only hurry the first three polls). minDelay = maxDelay = 1 s is that rhythm
 * from the start, without jitter — and it is Elbv2TargetPool's own poll interval, so both spend the
 * same DescribeTargetHealth calls.
 */
export const TUNED_DELAYS: WaiterDelays = { minDelaySeconds: 1, maxDelaySeconds: 1 };

export interface Elbv2WaiterTargetPoolProps extends Elbv2TargetPoolProps {
  /** @default SDK_DEFAULT_DELAYS (15 s, 120 s) */
  readonly waiterDelays?: WaiterDelays;
}

export class Elbv2WaiterTargetPool extends Elbv2TargetPool {
  private readonly waiterDelays: WaiterDelays;

  constructor(props: Elbv2WaiterTargetPoolProps) {
    super(props);
    this.waiterDelays = props.waiterDelays ?? SDK_DEFAULT_DELAYS;
  }

  override async waitDrained(targetId: string, signal?: AbortSignal): Promise<void> {
    const deadlineMs = await this.drainDeadlineMs(signal);
    if (await this.waitWithDeadline(waitUntilTargetDeregistered, targetId, deadlineMs, signal)) return;
    throw new DeadlineExceededError(targetId, 'draining', deadlineMs, describeState(await this.targetHealth(targetId, signal)));
  }

  override async waitHealthy(targetId: string, signal?: AbortSignal): Promise<void> {
    const deadlineMs = await this.healthyDeadlineMs(signal);
    if (await this.waitWithDeadline(waitUntilTargetInService, targetId, deadlineMs, signal)) return;
    // The in-service waiter retries through `unhealthy`; only its timeout tells, so look once more.
    const status = await this.targetHealth(targetId, signal);
    if (status.state === 'unhealthy') throw new TargetUnhealthyError(targetId, status.reasonCode ?? 'Target.FailedHealthChecks', status.description);
    throw new DeadlineExceededError(targetId, 'becoming healthy', deadlineMs, describeState(status));
  }

  /** True when the waiter succeeded, false when the deadline passed first. */
  private async waitWithDeadline(waiter: TargetWaiter, targetId: string, deadlineMs: number, signal?: AbortSignal): Promise<boolean> {
    signal?.throwIfAborted();
    const stop = new AbortController();
    const forward = () => stop.abort(signal?.reason);
    signal?.addEventListener('abort', forward, { once: true });
    let deadlinePassed = false;
    this.clock
      .sleep(deadlineMs, stop.signal)
      .then(() => {
        deadlinePassed = true;
        stop.abort();
      })
      .catch(() => undefined);
    try {
      const { minDelaySeconds, maxDelaySeconds } = this.waiterDelays;
      await waiter(
        {
          client: this.client,
          minDelay: minDelaySeconds,
          maxDelay: maxDelaySeconds,
          // The SDK wants maxWaitTime > minDelay.
          maxWaitTime: Math.max(minDelaySeconds + 1, Math.ceil(deadlineMs / 1000)),
          abortSignal: stop.signal,
        },
        { TargetGroupArn: this.targetGroupArn, Targets: [{ Id: targetId }] },
      );
      return true;
    } catch (error) {
      signal?.throwIfAborted();
      // The waiter reports its own limit as a TimeoutError and our deadline as an AbortError.
      if (deadlinePassed || (error instanceof Error && error.name === 'TimeoutError')) return false;
      throw error;
    } finally {
      signal?.removeEventListener('abort', forward);
      if (!stop.signal.aborted) stop.abort();
    }
  }
}
