import { EventEmitter } from 'node:events';

/** An EventEmitter whose event names and payloads are checked against an event map. */
export class TypedEmitter<Events extends Record<string, unknown>> {
  private readonly emitter = new EventEmitter();

  on<Name extends keyof Events & string>(name: Name, listener: (payload: Events[Name]) => void): this {
    this.emitter.on(name, listener);
    return this;
  }

  off<Name extends keyof Events & string>(name: Name, listener: (payload: Events[Name]) => void): this {
    this.emitter.off(name, listener);
    return this;
  }

  protected emit<Name extends keyof Events & string>(name: Name, payload: Events[Name]): void {
    this.emitter.emit(name, payload);
  }
}
