// The cdk-nag part of the pull-request report, read offline from the head assembly. cdk-nag checks
// run inside synth (bin/app.ts adds them as a validation plugin): an unacknowledged finding fails
// synth and lands in validation-report.json; an acknowledgement is recorded in the stack's metadata
// (`aws:cdk:acknowledged-rules`, rule → reason) next to the construct it concerns.
import type { CloudAssembly } from './cloud-assembly.ts';

export interface NagFinding {
  /** The rule with its finding, e.g. `AwsSolutions-IAM5[Resource::<Bucket.Arn>/releases/*]`. */
  readonly rule: string;
  readonly constructPath: string;
  /** The acknowledgement's reason, or the rule's description for an unacknowledged finding. */
  readonly text: string;
}

export interface NagSummary {
  readonly unacknowledged: readonly NagFinding[];
  readonly acknowledged: readonly NagFinding[];
}

/** cdk-nag's rule packs name their rules `<pack>-<id>`; other validation plugins' rules are left out. */
const NAG_RULE = /(?:AwsSolutions|HIPAA\.Security|NIST\.800\.53\.R[45]|PCI\.DSS\.321|Serverless)-\S+/;
const ACKNOWLEDGED_RULES = 'aws:cdk:acknowledged-rules';

export function nagSummary(assembly: CloudAssembly): NagSummary {
  const acknowledged: NagFinding[] = [];
  for (const stack of assembly.stacks) {
    for (const [path, entries] of Object.entries(stack.metadata)) {
      for (const entry of entries) {
        if (entry.type !== ACKNOWLEDGED_RULES || typeof entry.data !== 'object' || entry.data === null) continue;
        for (const [key, reason] of Object.entries(entry.data as Record<string, unknown>)) {
          const rule = NAG_RULE.exec(key)?.[0];
          if (rule) acknowledged.push({ rule, constructPath: path.replace(/^\//, ''), text: String(reason) });
        }
      }
    }
  }
  const unacknowledged = assembly.violations
    .filter((violation) => NAG_RULE.test(violation.ruleName))
    .flatMap((violation) => violation.constructPaths.map((constructPath) => ({
      rule: NAG_RULE.exec(violation.ruleName)![0],
      constructPath,
      text: violation.description ?? '',
    })));
  const order = (a: NagFinding, b: NagFinding) => a.rule.localeCompare(b.rule) || a.constructPath.localeCompare(b.constructPath);
  return { unacknowledged: unacknowledged.sort(order), acknowledged: acknowledged.sort(order) };
}
