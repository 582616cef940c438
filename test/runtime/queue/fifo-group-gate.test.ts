// The gate under arbitrary interleavings of arrivals, starts, finishes and failures (fast-check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FifoGroupGate } from '../../../lib/runtime/queue/fifo-group-gate.ts';

interface Item {
  readonly messageGroupId: string | undefined;
  readonly sequence: number;
}

const step = fc.oneof(
  fc.record({ kind: fc.constant('hold' as const), group: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }) }),
  fc.record({ kind: fc.constant('start' as const) }),
  fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('fail' as const), pick: fc.nat() }),
);

describe('FifoGroupGate', () => {
  it('never starts two items of a group at once, starts each group in arrival order, and eventually starts every item', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const gate = new FifoGroupGate<Item>();
        const running: Item[] = [];
        // Per group, the sequence numbers started, and those handed back after a failure.
        const started = new Map<string, number[]>();
        // What the gate should hold: held, and neither started nor handed back.
        const waiting: Item[] = [];
        const startedOnce: number[] = [];
        const handedBack: number[] = [];
        let sequence = 0;
        const startNext = (): Item | undefined => {
          const item = gate.next();
          if (!item) {
            // Progress: the gate only says "nothing" when every waiting item's group is running.
            const startable = waiting.filter((other) => other.messageGroupId === undefined || !running.some((busy) => busy.messageGroupId === other.messageGroupId));
            expect(startable).toEqual([]);
            return undefined;
          }
          expect(waiting).toContain(item);
          waiting.splice(waiting.indexOf(item), 1);
          if (item.messageGroupId !== undefined) {
            expect(running.some((other) => other.messageGroupId === item.messageGroupId)).toBe(false);
            const order = started.get(item.messageGroupId) ?? [];
            expect(order.every((earlier) => earlier < item.sequence)).toBe(true);
            started.set(item.messageGroupId, [...order, item.sequence]);
          }
          startedOnce.push(item.sequence);
          running.push(item);
          return item;
        };
        for (const next of steps) {
          if (next.kind === 'hold') {
            const item = { messageGroupId: next.group, sequence: sequence++ };
            gate.hold(item);
            waiting.push(item);
          } else if (next.kind === 'start') {
            startNext();
          } else if (running.length > 0) {
            const [item] = running.splice(next.pick % running.length, 1) as [Item];
            // A failure takes the group's waiting items out before the group is free again.
            if (next.kind === 'fail' && item.messageGroupId !== undefined) {
              const taken = gate.takeGroup(item.messageGroupId);
              expect(taken.map((other) => other.sequence)).toEqual([...taken.map((other) => other.sequence)].sort((x, y) => x - y));
              expect(taken).toEqual(waiting.filter((other) => other.messageGroupId === item.messageGroupId));
              for (const other of taken) waiting.splice(waiting.indexOf(other), 1);
              handedBack.push(...taken.map((other) => other.sequence));
            }
            gate.finish(item);
          }
        }
        expect(gate.size + running.length).toBeLessThanOrEqual(sequence);
        expect(gate.size).toBe(waiting.length);

        // Then every handler finishes, as handlers do: each waiting item must start within as many rounds as there are items.
        for (let round = 0; gate.size > 0; round++) {
          expect(round).toBeLessThan(sequence);
          while (startNext());
          for (const item of running.splice(0)) gate.finish(item);
        }
        expect([...startedOnce, ...handedBack].sort((x, y) => x - y)).toEqual(Array.from({ length: sequence }, (_, index) => index));
      }),
      { numRuns: 300 },
    );
  });

  it('starts items without a group in order as long as asked', () => {
    const gate = new FifoGroupGate<Item>();
    for (let sequence = 0; sequence < 3; sequence++) gate.hold({ messageGroupId: undefined, sequence });
    expect([gate.next(), gate.next(), gate.next(), gate.next()].map((item) => item?.sequence)).toEqual([0, 1, 2, undefined]);
  });
});
