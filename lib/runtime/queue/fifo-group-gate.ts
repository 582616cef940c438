// Received messages wait here until a handler slot is free. Messages of a FIFO message group start one
// at a time, in the order received; messages without a group (standard queues) start in order as
// soon as a slot is free.

export interface Groupable {
  readonly messageGroupId: string | undefined;
}

export class FifoGroupGate<Item extends Groupable> {
  private readonly waiting: Item[] = [];
  private readonly busyGroups = new Set<string>();

  hold(item: Item): void {
    this.waiting.push(item);
  }

  /** Takes the oldest waiting item whose group is not busy; its group is busy until `finish(item)`. */
  next(): Item | undefined {
    const index = this.waiting.findIndex((item) => item.messageGroupId === undefined || !this.busyGroups.has(item.messageGroupId));
    if (index < 0) return undefined;
    const [item] = this.waiting.splice(index, 1) as [Item];
    if (item.messageGroupId !== undefined) this.busyGroups.add(item.messageGroupId);
    return item;
  }

  finish(item: Item): void {
    if (item.messageGroupId !== undefined) this.busyGroups.delete(item.messageGroupId);
  }

  /** Takes every waiting item of `groupId` out, oldest first (a failure must not be overtaken). */
  takeGroup(groupId: string): Item[] {
    const taken = this.waiting.filter((item) => item.messageGroupId === groupId);
    this.remove(taken);
    return taken;
  }

  /** Takes every waiting item out, oldest first. */
  takeAll(): Item[] {
    return this.waiting.splice(0, this.waiting.length);
  }

  /** Items waiting (received, not started). */
  get size(): number {
    return this.waiting.length;
  }

  private remove(items: readonly Item[]): void {
    for (const item of items) this.waiting.splice(this.waiting.indexOf(item), 1);
  }
}
