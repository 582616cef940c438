// Which leases a worker takes in one round, as a pure function of what it saw (KCL's
// DynamoDBLeaseTaker rules): the target is ceil(workable leases / live workers); a worker below it
// takes free leases first (unowned, then expired); only when none is free does it steal, and then at
// most one lease, from the most-loaded worker, when that worker is above the target (or at it while
// this worker needs more than one). Repeated rounds converge: every worker ends with the target or
// one less, and nobody steals back and forth.

/** A lease as the balancer sees it: held by a live worker, or free. */
export interface LeaseStanding {
  readonly leaseKey: string;
  /** The live worker that holds it; undefined when it is free to take. */
  readonly holder?: string;
  /** For a free lease: true when nobody owns it (preferred over an expired one, whose owner may still be finishing). */
  readonly unowned?: boolean;
}

export interface LeaseTakePlan {
  /** Free leases to take, best first. */
  readonly take: readonly string[];
  /** A lease to steal from a live worker. */
  readonly steal?: { readonly leaseKey: string; readonly from: string };
}

export interface BalanceInput {
  readonly workerId: string;
  /** Every workable lease (not finished, parents finished). */
  readonly leases: readonly LeaseStanding[];
  /** No worker takes more than this. */
  readonly maxLeasesPerWorker: number;
  /** Picks one of `choices`; random by default, so that workers starting together take different leases. */
  readonly pick?: <T>(choices: readonly T[]) => T;
}

const randomPick = <T>(choices: readonly T[]): T => choices[Math.floor(Math.random() * choices.length)]!;

export function planLeaseTakes(input: BalanceInput): LeaseTakePlan {
  const pick = input.pick ?? randomPick;
  const counts = new Map<string, number>([[input.workerId, 0]]);
  for (const { holder } of input.leases) if (holder !== undefined) counts.set(holder, (counts.get(holder) ?? 0) + 1);

  const target = Math.min(input.maxLeasesPerWorker, Math.ceil(input.leases.length / counts.size));
  const needed = target - counts.get(input.workerId)!;
  if (needed <= 0) return { take: [] };

  const free = input.leases.filter((lease) => lease.holder === undefined);
  if (free.length > 0) {
    const ordered = [...shuffled(free.filter((lease) => lease.unowned), pick), ...shuffled(free.filter((lease) => !lease.unowned), pick)];
    return { take: ordered.slice(0, needed).map((lease) => lease.leaseKey) };
  }

  let mostLoaded: { worker: string; count: number } | undefined;
  for (const [worker, count] of counts) {
    if (worker !== input.workerId && (!mostLoaded || count > mostLoaded.count)) mostLoaded = { worker, count };
  }
  if (!mostLoaded || !(mostLoaded.count > target || (mostLoaded.count === target && needed > 1))) return { take: [] };
  const victim = pick(input.leases.filter((lease) => lease.holder === mostLoaded.worker));
  return { take: [], steal: { leaseKey: victim.leaseKey, from: mostLoaded.worker } };
}

function shuffled<T>(items: readonly T[], pick: <U>(choices: readonly U[]) => U): T[] {
  const rest = [...items];
  const order: T[] = [];
  while (rest.length > 0) {
    const chosen = pick(rest);
    rest.splice(rest.indexOf(chosen), 1);
    order.push(chosen);
  }
  return order;
}
