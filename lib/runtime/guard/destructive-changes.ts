// Which stateful resources a deploy of the head assembly over the base one would destroy. The
// decision is @aws-cdk/cloudformation-diff's, the same engine `cdk diff` uses: whether a property
// change forces replacement comes from the CloudFormation resource specification, replacements are
// propagated through references, and a removal's fate comes from the base's DeletionPolicy (what
// CloudFormation applies to a resource that leaves the template). Nothing here restates those rules.
import { fullDiff, ResourceImpact, type ResourceDifference } from '@aws-cdk/cloudformation-diff';
import type { AssemblyStack, CloudAssembly, CloudFormationTemplate } from './cloud-assembly.ts';
import { isStatefulResourceType } from './stateful-resource-types.ts';

export type StatefulChangeKind = 'replaced' | 'may-be-replaced' | 'removed' | 'orphaned';

/** A stateful resource the deploy would replace or remove. */
export interface StatefulChange {
  readonly stackName: string;
  readonly logicalId: string;
  readonly resourceType: string;
  /** The construct path (`sluice-dev/WorkQueue/Queue/Resource`); undefined for a template the CDK did not write. */
  readonly constructPath?: string;
  readonly change: StatefulChangeKind;
  /** Why, one phrase each: the property that forces replacement, or what removes it. */
  readonly reasons: readonly string[];
}

export interface StackComparison {
  readonly stackName: string;
  /** `added`: only in the head; `removed`: only in the base. */
  readonly status: 'compared' | 'added' | 'removed';
  /** Stateful resources in the head's template (the base's for a removed stack). */
  readonly statefulResources: number;
}

export interface GuardResult {
  readonly stacks: readonly StackComparison[];
  /** Data would be lost: replaced, possibly replaced, or removed without DeletionPolicy Retain. */
  readonly destructive: readonly StatefulChange[];
  /**
   * Removed with DeletionPolicy Retain: CloudFormation keeps the resource and its data in the account
   * and stops managing it. Not data loss, so the guard passes it, and reports it for the reviewer.
   */
  readonly orphaned: readonly StatefulChange[];
}

const RETAIN_POLICIES = new Set(['Retain', 'RetainExceptOnCreate']);

/** Compares every stack of `base` with the stack of the same name in `head`. */
export function compareAssemblies(base: CloudAssembly, head: CloudAssembly): GuardResult {
  const stacks: StackComparison[] = [];
  const changes: StatefulChange[] = [];
  const headByName = new Map(head.stacks.map((stack) => [stack.stackName, stack]));
  const baseNames = new Set(base.stacks.map((stack) => stack.stackName));
  for (const baseStack of base.stacks) {
    const headStack = headByName.get(baseStack.stackName);
    // A stack missing from the head is compared with an empty template: every resource is removed.
    changes.push(...statefulChanges(baseStack, headStack));
    stacks.push({
      stackName: baseStack.stackName,
      status: headStack ? 'compared' : 'removed',
      statefulResources: countStateful((headStack ?? baseStack).template),
    });
  }
  for (const headStack of head.stacks) {
    if (!baseNames.has(headStack.stackName)) stacks.push({ stackName: headStack.stackName, status: 'added', statefulResources: countStateful(headStack.template) });
  }
  const order = (a: StatefulChange, b: StatefulChange) => a.stackName.localeCompare(b.stackName) || a.logicalId.localeCompare(b.logicalId);
  changes.sort(order);
  stacks.sort((a, b) => a.stackName.localeCompare(b.stackName));
  return { stacks, destructive: changes.filter((change) => change.change !== 'orphaned'), orphaned: changes.filter((change) => change.change === 'orphaned') };
}

function statefulChanges(baseStack: AssemblyStack, headStack: AssemblyStack | undefined): StatefulChange[] {
  const diff = fullDiff(baseStack.template, headStack?.template ?? {});
  const changes: StatefulChange[] = [];
  diff.resources.forEachDifference((logicalId, difference) => {
    const resourceType = difference.oldResourceType;
    if (!isStatefulResourceType(resourceType)) return;
    const change = kindOf(difference.changeImpact);
    if (change === undefined) return;
    const reasons = change === 'removed' || change === 'orphaned'
      ? removalReasons(difference, baseStack, headStack)
      : replacementReasons(difference);
    changes.push({
      stackName: baseStack.stackName,
      logicalId,
      resourceType: resourceType!,
      constructPath: constructPath(baseStack, logicalId) ?? (headStack && constructPath(headStack, logicalId)),
      change,
      reasons,
    });
  });
  return changes;
}

function kindOf(impact: ResourceImpact): StatefulChangeKind | undefined {
  switch (impact) {
    case ResourceImpact.WILL_REPLACE: return 'replaced';
    // Whether the change replaces depends on the values (the specification says "conditional"):
    // the guard cannot prove it safe, so it counts as destructive.
    case ResourceImpact.MAY_REPLACE: return 'may-be-replaced';
    case ResourceImpact.WILL_DESTROY: return 'removed';
    case ResourceImpact.WILL_ORPHAN: return 'orphaned';
    default: return undefined;
  }
}

function replacementReasons(difference: ResourceDifference): string[] {
  if (difference.resourceTypeChanged) return [`type changes from ${difference.oldResourceType} to ${difference.newResourceType}`];
  const reasons = Object.entries(difference.propertyUpdates)
    .filter(([, update]) => update.changeImpact === ResourceImpact.WILL_REPLACE || update.changeImpact === ResourceImpact.MAY_REPLACE)
    .map(([property, update]) => `${property}: ${showValue(update.oldValue)} → ${showValue(update.newValue)} ${update.changeImpact === ResourceImpact.WILL_REPLACE ? 'forces replacement' : 'may force replacement'}`);
  if (RETAIN_POLICIES.has(String(difference.newValue?.UpdateReplacePolicy))) {
    reasons.push('UpdateReplacePolicy Retain keeps the old one, but the stack moves to a new, empty one');
  }
  return reasons;
}

function removalReasons(difference: ResourceDifference, baseStack: AssemblyStack, headStack: AssemblyStack | undefined): string[] {
  const policy = difference.oldValue?.DeletionPolicy as string | undefined;
  const where = headStack ? 'removed from the template' : `removed with its stack (${baseStack.stackName} is not in the head assembly)`;
  const reasons = [RETAIN_POLICIES.has(String(policy))
    ? `${where}; DeletionPolicy ${policy} keeps it in the account, no longer managed by the stack`
    : `${where}, DeletionPolicy ${policy ?? '(none)'}`];
  // The usual cause: a refactor moved the construct, which changes its logical ID.
  const sameType = Object.entries(headStack?.template.Resources ?? {})
    .filter(([logicalId, resource]) => resource.Type === difference.oldResourceType && !(logicalId in (baseStack.template.Resources ?? {})))
    .map(([logicalId]) => logicalId);
  if (sameType.length > 0) {
    reasons.push(`the head adds ${sameType.join(', ')} of the same type: if it is this resource moved in the construct tree, keep the old logical ID`);
  }
  return reasons;
}

/** The construct path from the template's `aws:cdk:path`, or from the assembly's logical-ID metadata. */
function constructPath(stack: AssemblyStack, logicalId: string): string | undefined {
  const fromTemplate = stack.template.Resources?.[logicalId]?.Metadata?.['aws:cdk:path'];
  if (typeof fromTemplate === 'string') return fromTemplate;
  for (const [path, entries] of Object.entries(stack.metadata)) {
    if (entries.some((entry) => entry.type === 'aws:cdk:logicalId' && entry.data === logicalId)) return path.replace(/^\//, '');
  }
  return undefined;
}

function countStateful(template: CloudFormationTemplate): number {
  return Object.values(template.Resources ?? {}).filter((resource) => isStatefulResourceType(resource.Type)).length;
}

const MAX_VALUE_LENGTH = 60;

function showValue(value: unknown): string {
  if (value === undefined) return '(not set)';
  const text = JSON.stringify(value);
  return text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH - 1)}…` : text;
}
