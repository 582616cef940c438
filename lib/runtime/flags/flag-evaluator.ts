// Deciding a flag for one user, locally: the declarations give each flag's kind and code default,
// the last configuration AppConfig delivered gives its deployed value. No I/O, no await: a request
// handler calls it as often as it likes.
import type { Logger } from '../json-logger.ts';
import { isInPercentage } from './bucketing.ts';
import type { FlagDefinition, FlagValue } from './flag-definition.ts';

/** Who a decision is for: the id that keeps a user in (or out of) a rollout across requests and instances. */
export interface FlagContext {
  readonly userId: string;
}

/** Decides flags from the declarations and, once there is one, a deployed configuration. */
export class FlagEvaluator {
  private readonly definitions: ReadonlyMap<string, FlagDefinition>;
  private values?: ReadonlyMap<string, FlagValue>;
  /** Flags already reported as undeclared or not deployed: each is logged once, not per request. */
  private readonly reported = new Set<string>();

  constructor(
    definitions: readonly FlagDefinition[],
    private readonly logger: Logger,
  ) {
    this.definitions = new Map(definitions.map((definition) => [definition.name, definition]));
  }

  /** Replaces the deployed values (the whole configuration: a flag it leaves out falls back to its code default). */
  use(values: ReadonlyMap<string, FlagValue>): void {
    this.values = values;
  }

  /** Whether a deployed configuration has been received; until then every flag is its code default. */
  get hasDeployedValues(): boolean {
    return this.values !== undefined;
  }

  /**
   * The kill switch first (`enabled: false` is off for everyone), then, for a rollout, the user's
   * bucket against the percentage. A flag the configuration lacks is its code default; a flag not
   * declared at all is off. Never throws.
   */
  isEnabled(flag: string, context: FlagContext): boolean {
    try {
      const definition = this.definitions.get(flag);
      if (definition === undefined) {
        this.reportOnce(flag, 'flags.undeclared_flag', `flag ${flag} is not declared in the flag file (lib/runtime/app/flags.ts); answering off`);
        return false;
      }
      if (this.values === undefined) return definition.default;
      const value = this.values.get(flag);
      if (value === undefined) {
        this.reportOnce(flag, 'flags.flag_not_deployed', `flag ${flag} is not in the deployed configuration (deploy the stack to add it); answering its code default ${definition.default}`);
        return definition.default;
      }
      if (!value.enabled) return false;
      if (definition.kind === 'kill-switch') return true;
      // An enabled value without a percentage is on for everyone: nothing in it limits the share.
      return isInPercentage(flag, context.userId, value.percentage ?? 100);
    } catch (error) {
      this.reportOnce(flag, 'flags.evaluation_failed', `flag ${flag} could not be evaluated (${String(error)}); answering its code default`);
      return this.definitions.get(flag)?.default ?? false;
    }
  }

  private reportOnce(flag: string, event: string, reason: string): void {
    const key = `${event}:${flag}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.logger.log('warn', event, { flag, reason });
  }
}
