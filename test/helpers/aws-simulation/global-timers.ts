import type { VirtualClock } from '../virtual-clock.ts';

/**
 * Routes the global setTimeout/clearTimeout to the virtual clock until the returned function is
 * called. Only for code that cannot take a Clock, i.e. the SDK waiters behind
 * Elbv2WaiterTargetPool (the benchmark baseline). Date.now() stays real: VirtualClock.run measures
 * real time with it, and the waiter pool enforces its deadline on the virtual clock instead.
 */
export function routeGlobalTimersTo(clock: VirtualClock): () => void {
  const original = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };
  /** Virtual timers set through the routing and not yet fired or cleared. */
  const routed = new Set<unknown>();
  globalThis.setTimeout = ((callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) => {
    const timer: unknown = clock.timers.setTimeout(
      (...callArgs: unknown[]) => {
        routed.delete(timer);
        callback(...callArgs);
      },
      delay ?? 0,
      ...args,
    );
    routed.add(timer);
    return timer;
  }) as unknown as typeof globalThis.setTimeout;
  // Anything else (a real timer set before the routing, or the SDK HTTP handler's -1 for "no timer")
  // goes to the real clearTimeout.
  globalThis.clearTimeout = ((timer: unknown) => {
    if (routed.delete(timer)) clock.timers.clearTimeout(timer as never);
    else original.clearTimeout(timer as never);
  }) as typeof globalThis.clearTimeout;
  return () => {
    globalThis.setTimeout = original.setTimeout;
    globalThis.clearTimeout = original.clearTimeout;
  };
}
