import type { VirtualClock } from '../virtual-clock.ts';

/**
 * Routes the global setTimeout/clearTimeout to the virtual clock until the returned function is
 * called. Only for code that cannot take a Clock, i.e. the SDK waiters behind
 * Elbv2WaiterTargetPool (the benchmark baseline). Date.now() stays real: VirtualClock.run measures
 * real time with it, and the waiter pool enforces its deadline on the virtual clock instead.
 */
export function routeGlobalTimersTo(clock: VirtualClock): () => void {
  const original = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };
  globalThis.setTimeout = ((callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) =>
    clock.timers.setTimeout(callback, delay ?? 0, ...args)) as unknown as typeof globalThis.setTimeout;
  globalThis.clearTimeout = ((timer: unknown) => clock.timers.clearTimeout(timer as never)) as typeof globalThis.clearTimeout;
  return () => {
    globalThis.setTimeout = original.setTimeout;
    globalThis.clearTimeout = original.clearTimeout;
  };
}
