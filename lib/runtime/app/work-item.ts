// The job schema: what `POST /jobs` accepts and what the worker's parseWorkItem accepts, defined once
// so that the web app never enqueues a job the worker would send to the dead-letter queue as
// unparseable. Extend WorkItem and workItemProblems together when a job gains a required field.

/** One unit of work as the producer sent it: a JSON object with a non-empty string `type`. */
export interface WorkItem {
  /** What to do, e.g. `"send-invoice"`. */
  readonly type: string;
  readonly [field: string]: unknown;
}

/**
 * Every way `value` (a parsed JSON document) falls short of a WorkItem, each phrased
 * `<field> must … (given …)`; empty when it is one.
 */
export function workItemProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [`the body must be a JSON object (given ${describeJson(value)})`];
  }
  const { type } = value as { type?: unknown };
  if (typeof type !== 'string' || type === '') {
    return [`type must be a non-empty string naming the work, e.g. "send-invoice" (given ${describeJson(type)})`];
  }
  return [];
}

/** A parsed JSON value as a problem shows it: short, and saying what kind of value it is. */
export function describeJson(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
