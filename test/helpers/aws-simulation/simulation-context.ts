import type { VirtualClock } from '../virtual-clock.ts';
import type { Random } from './seeded-random.ts';
import type { SimulationLog } from './simulation-log.ts';

/** What every simulated service shares: virtual time, the change log and the seeded random source. */
export interface SimulationContext {
  readonly clock: VirtualClock;
  readonly log: SimulationLog;
  readonly random: Random;
}
