// BENCHMARK BASELINE ONLY — do not use in a release. The same TargetPool as Elbv2TargetPool, but
// its waits are the SDK v3 waiters (waitUntilTargetDeregistered / waitUntilTargetInService), which
// poll at 15–120 s with back-off. It exists so a benchmark can show what polling ourselves saves.
//
// The waiters sleep with the global setTimeout and measure their own limit with Date.now(), not with
// the injected clock: in virtual time the global timers must be routed to the virtual clock, and the
// deadline is enforced here on the injected clock (an abort), not by the waiter's maxWaitTime.
import { waitUntilTargetDeregistered, waitUntilTargetInService } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DeadlineExceededError, TargetUnhealthyError } from '../../lib/runtime/release/errors.ts';
import { describeState, Elbv2TargetPool } from '../../lib/runtime/release/aws/elbv2-target-pool.ts';

type TargetWaiter = typeof waitUntilTargetDeregistered;

/** The waiters' own minimum delay: their maxWaitTime must exceed it. */
const WAITER_MIN_DELAY_SECONDS = 15;

export class Elbv2WaiterTargetPool extends Elbv2TargetPool {
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
      await waiter(
        { client: this.client, maxWaitTime: Math.max(WAITER_MIN_DELAY_SECONDS + 1, Math.ceil(deadlineMs / 1000)), abortSignal: stop.signal },
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
