// Reading IAM policies out of a synthesized template the way IAM reads them: ARNs as the strings
// they become at deploy time, and trust conditions evaluated against a token's claims.

/** A template value with `{ Ref: X }` written `${X}` and `Fn::Join` joined: `arn:${AWS::Partition}:…`. */
export function flattenTokens(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(flattenTokens);
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  if (typeof object.Ref === 'string' && Object.keys(object).length === 1) return `\${${object.Ref}}`;
  const join = object['Fn::Join'];
  if (Array.isArray(join) && Object.keys(object).length === 1) {
    const [separator, parts] = join as [string, unknown[]];
    return parts.map((part) => String(flattenTokens(part))).join(separator);
  }
  return Object.fromEntries(Object.entries(object).map(([key, entry]) => [key, flattenTokens(entry)]));
}

/** An IAM wildcard pattern (`*` any run of characters, `?` one) as a regular expression. */
export function iamPattern(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

interface TrustStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Principal: { readonly Federated?: unknown };
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | string[]>>>>;
}

/**
 * Whether a web-identity token with these claims may assume a role with this trust policy: some
 * Allow statement for sts:AssumeRoleWithWebIdentity from `provider` whose every condition holds. An
 * operator this evaluator does not know fails the test rather than being skipped.
 */
export function webIdentityMayAssume(
  trustPolicy: { readonly Statement: readonly TrustStatement[] },
  provider: unknown,
  claims: Readonly<Record<string, string>>,
): boolean {
  return trustPolicy.Statement.some((statement) => {
    if (statement.Effect !== 'Allow' || ![statement.Action].flat().includes('sts:AssumeRoleWithWebIdentity')) return false;
    if (JSON.stringify(statement.Principal.Federated) !== JSON.stringify(provider)) return false;
    return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
      Object.entries(keys).every(([key, expected]) => {
        const claim = claims[key];
        const values = [expected].flat();
        if (claim === undefined) return false;
        if (operator === 'StringEquals') return values.includes(claim);
        if (operator === 'StringLike') return values.some((value) => iamPattern(value).test(claim));
        throw new Error(`the test's trust evaluator does not know the condition operator ${operator}`);
      }));
  });
}
