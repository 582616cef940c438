// What the demo proves, as functions of what it recorded: no request failed, no job was lost, every
// event was processed in order per key, and the leases ended up spread over the live workers. Each
// check says what it found, so a failed demo explains itself.

import type { PutEvent } from './demo-load.ts';

export interface DemoCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export function requestsCheck(requests: number, failed: number, failures: readonly string[]): DemoCheck {
  return {
    name: 'no failed HTTP request',
    ok: requests > 0 && failed === 0,
    detail: failed === 0 ? `${requests} requests, 0 failed` : `${failed} of ${requests} failed, e.g. ${failures.slice(0, 3).join('; ')}`,
  };
}

/** Every accepted job delivered at least once to the external API; a second delivery is a duplicate, not a loss. */
export function jobsCheck(accepted: readonly string[], deliveries: ReadonlyMap<string, number>, deadLetters: number): DemoCheck {
  const lost = accepted.filter((messageId) => !deliveries.has(messageId));
  const duplicates = accepted.reduce((sum, messageId) => sum + Math.max(0, (deliveries.get(messageId) ?? 0) - 1), 0);
  const ok = accepted.length > 0 && lost.length === 0 && deadLetters === 0;
  return {
    name: 'every accepted job processed',
    ok,
    detail:
      `${accepted.length} accepted, ${accepted.length - lost.length} processed, ${lost.length} lost, ${duplicates} processed twice (SQS delivers at least once), ${deadLetters} in the dead-letter queue` +
      (lost.length > 0 ? `; lost e.g. ${lost.slice(0, 3).join(', ')}` : ''),
  };
}

export interface ProcessedEvent {
  readonly partitionKey: string;
  readonly sequenceNumber: string;
}

/**
 * Per key, the events as the consumers first processed them must be the events as they were put, in
 * that order. A record processed again (after a crash, from the last checkpoint) is a replay, counted
 * but not a fault: the consumer is at-least-once, and the order of first processing is what holds.
 */
export function eventsCheck(put: readonly PutEvent[], processed: readonly ProcessedEvent[]): DemoCheck {
  const putByKey = new Map<string, string[]>();
  for (const event of [...put].sort((a, b) => a.number - b.number)) putByKey.set(event.key, [...(putByKey.get(event.key) ?? []), event.sequenceNumber]);
  const firstByKey = new Map<string, string[]>();
  const seen = new Set<string>();
  let replays = 0;
  for (const event of processed) {
    if (seen.has(event.sequenceNumber)) {
      replays += 1;
      continue;
    }
    seen.add(event.sequenceNumber);
    firstByKey.set(event.partitionKey, [...(firstByKey.get(event.partitionKey) ?? []), event.sequenceNumber]);
  }
  const missing = put.filter((event) => !seen.has(event.sequenceNumber));
  const outOfOrder = [...putByKey].filter(([key, sequence]) => {
    const first = (firstByKey.get(key) ?? []).filter((sequenceNumber) => sequence.includes(sequenceNumber));
    return first.some((sequenceNumber, index) => sequenceNumber !== sequence[index]);
  });
  return {
    name: 'every event processed in order per key',
    ok: put.length > 0 && missing.length === 0 && outOfOrder.length === 0,
    detail:
      `${put.length} put over ${putByKey.size} keys, ${put.length - missing.length} processed, ${missing.length} missing, ${outOfOrder.length} ${outOfOrder.length === 1 ? 'key' : 'keys'} out of order, ${replays} replayed after the crash` +
      (missing.length > 0 ? `; missing e.g. ${missing.slice(0, 3).map((event) => `${event.key}#${event.number}`).join(', ')}` : '') +
      (outOfOrder.length > 0 ? `; out of order: ${outOfOrder.slice(0, 3).map(([key]) => key).join(', ')}` : ''),
  };
}

/** The shards' owners are exactly the live workers, each with its fair share (within one). */
export function leasesCheck(owners: readonly (string | undefined)[], liveWorkers: readonly string[], killedWorker: string | undefined): DemoCheck {
  const counts = new Map<string, number>(liveWorkers.map((worker) => [worker, 0]));
  let strangers = 0;
  for (const owner of owners) {
    if (owner !== undefined && counts.has(owner)) counts.set(owner, counts.get(owner)! + 1);
    else strangers += 1;
  }
  const shares = [...counts.values()];
  const balanced = shares.length > 0 && Math.max(...shares) - Math.min(...shares) <= 1;
  const ok = owners.length > 0 && strangers === 0 && balanced;
  return {
    name: 'leases rebalanced',
    ok,
    detail: `${owners.length} shards: ${[...counts].map(([worker, count]) => `${worker} holds ${count}`).join(', ')}${strangers > 0 ? `, ${strangers} free or held by a worker that is gone${killedWorker && owners.includes(killedWorker) ? ` (the killed ${killedWorker})` : ''}` : ''}`,
  };
}
