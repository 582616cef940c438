import { describe, expect, it } from 'vitest';
import type { FlagDefinition } from '../../../lib/runtime/flags/flag-definition.ts';
import {
  featureFlagsContent,
  featureFlagsDocument,
  flagValuesFromDocument,
  InvalidFeatureFlagsDocumentError,
} from '../../../lib/runtime/flags/feature-flags-document.ts';
import { InvalidFlagDefinitionsError } from '../../../lib/runtime/flags/validate-flag-definitions.ts';

const definitions: FlagDefinition[] = [
  { name: 'new-checkout', description: 'The new checkout page.', owner: 'payments', kind: 'rollout', default: false, percentage: 5 },
  { name: 'search_v2', description: 'Search through the new index.', owner: 'search', kind: 'kill-switch', default: true },
];

// The AWS.AppConfig.FeatureFlags type reference (AppConfig user guide), written out: the keys each
// level allows and the rules on each value. A document breaking any of them is refused by
// CreateHostedConfigurationVersion.
const FLAG_KEY = /^[a-z][a-zA-Z\d_-]{0,63}$/;
function schemaViolations(document: Record<string, unknown>): string[] {
  const violations: string[] = [];
  const only = (where: string, object: object, allowed: string[]) => {
    for (const key of Object.keys(object)) if (!allowed.includes(key)) violations.push(`${where}: "${key}" not allowed`);
  };
  only('document', document, ['version', 'flags', 'values']);
  if (document.version !== '1') violations.push('version must be "1"');
  const flags = document.flags as Record<string, Record<string, unknown>>;
  const values = document.values as Record<string, Record<string, unknown>>;
  for (const [key, flag] of Object.entries(flags)) {
    if (!FLAG_KEY.test(key)) violations.push(`flag key ${key}`);
    only(`flags.${key}`, flag, ['name', 'description', '_createdAt', '_updatedAt', '_deprecation', 'attributes']);
    if (typeof flag.name !== 'string' || !/^[^\n]{1,64}$/.test(flag.name)) violations.push(`flags.${key}.name`);
    if (typeof flag.description !== 'string' || flag.description.length > 1024) violations.push(`flags.${key}.description`);
    const attributes = (flag.attributes ?? {}) as Record<string, Record<string, unknown>>;
    if (Object.keys(attributes).length > 25) violations.push(`flags.${key}: more than 25 attributes`);
    for (const [name, attribute] of Object.entries(attributes)) {
      if (!FLAG_KEY.test(name) || name === 'enabled') violations.push(`attribute key ${name}`);
      only(`flags.${key}.attributes.${name}`, attribute, ['description', 'constraints']);
      const constraints = attribute.constraints as Record<string, unknown>;
      only(`flags.${key}.attributes.${name}.constraints`, constraints, ['type', 'required', 'minimum', 'maximum']);
      if (constraints.type !== 'number') violations.push('number constraints need type "number"');
      for (const bound of ['minimum', 'maximum']) if (!Number.isInteger(constraints[bound])) violations.push(`${bound} must be an integer`);
    }
  }
  for (const [key, value] of Object.entries(values)) {
    if (!FLAG_KEY.test(key)) violations.push(`value key ${key}`);
    if (typeof value.enabled !== 'boolean') violations.push(`values.${key}.enabled must be boolean`);
    for (const [name, attribute] of Object.entries(value)) {
      if (name !== 'enabled' && !FLAG_KEY.test(name)) violations.push(`values.${key}.${name}`);
      if (name !== 'enabled' && !['string', 'number', 'boolean'].includes(typeof attribute)) violations.push(`values.${key}.${name} type`);
    }
  }
  return violations;
}

describe('featureFlagsDocument', () => {
  it('builds the documented AWS.AppConfig.FeatureFlags shape: a kill switch as a bare flag, a rollout with a constrained 0-100 percentage', () => {
    const document = featureFlagsDocument(definitions);
    expect(document).toEqual({
      version: '1',
      flags: {
        'new-checkout': {
          name: 'new-checkout',
          description: 'The new checkout page. (owner: payments)',
          attributes: { percentage: { description: expect.any(String), constraints: { type: 'number', required: true, minimum: 0, maximum: 100 } } },
        },
        search_v2: { name: 'search_v2', description: 'Search through the new index. (owner: search)' },
      },
      // The first deployment's values are the declarations': default, and the declared percentage.
      values: { 'new-checkout': { enabled: false, percentage: 5 }, search_v2: { enabled: true } },
    });
    expect(schemaViolations(JSON.parse(featureFlagsContent(document)))).toEqual([]);
  });

  it('is the same text for the same declarations, so an unchanged file never makes a new hosted version', () => {
    expect(featureFlagsContent(featureFlagsDocument(definitions))).toBe(featureFlagsContent(featureFlagsDocument([...definitions])));
    expect(featureFlagsContent(featureFlagsDocument(definitions))).not.toMatch(/_createdAt|_updatedAt/);
  });

  it('takes given values over the declared ones and drops values of flags no longer declared', () => {
    const document = featureFlagsDocument(definitions, { 'new-checkout': { enabled: true, percentage: 25 }, removed: { enabled: true } });
    expect(document.values).toEqual({ 'new-checkout': { enabled: true, percentage: 25 }, search_v2: { enabled: true } });
  });

  it('refuses values AppConfig would refuse, and invalid declarations, listing every problem', () => {
    expect(() => featureFlagsDocument(definitions, { 'new-checkout': { enabled: true, percentage: 101 }, search_v2: { enabled: false, percentage: 3 } }))
      .toThrow(new InvalidFeatureFlagsDocumentError([
        'flag "new-checkout" percentage must be between 0 and 100 (given 101)',
        'flag "search_v2" is a kill switch: it takes no percentage (given 3)',
      ]));
    expect(() => featureFlagsDocument([{ ...definitions[0], name: 'Nope' }])).toThrow(InvalidFlagDefinitionsError);
  });
});

describe('flagValuesFromDocument', () => {
  it('reads back exactly the values written (round trip), from text or bytes', () => {
    const values = { 'new-checkout': { enabled: true, percentage: 12.5 }, search_v2: { enabled: false } };
    const content = featureFlagsContent(featureFlagsDocument(definitions, values));
    expect(flagValuesFromDocument(content)).toEqual(values);
    expect(flagValuesFromDocument(new TextEncoder().encode(content))).toEqual(values);
  });

  it('reads a document as AppConfig returns it after a console edit: timestamps and other attributes are ignored, a flag without a value is off', () => {
    const edited = {
      version: '1',
      flags: { 'new-checkout': { name: 'new-checkout', _createdAt: '2024-01-01T00:00:00Z', attributes: { percentage: { constraints: { type: 'number' } } } }, later: { name: 'later' } },
      values: { 'new-checkout': { enabled: true, percentage: 40, _updatedAt: '2024-01-02T00:00:00Z', colour: 'blue' } },
    };
    expect(flagValuesFromDocument(JSON.stringify(edited))).toEqual({ 'new-checkout': { enabled: true, percentage: 40 }, later: { enabled: false } });
  });

  it('refuses what departs from the schema, with every problem listed', () => {
    const bad = { version: '2', extra: true, flags: { ok: {}, 'Bad-key': {} }, values: { ok: { enabled: 'yes' }, orphan: { enabled: true }, 'Bad-key': { enabled: true, percentage: 200 } } };
    expect(() => flagValuesFromDocument(JSON.stringify(bad))).toThrow(new InvalidFeatureFlagsDocumentError([
      'unknown top-level key "extra" (the schema allows version, flags and values)',
      'version must be "1" (given "2")',
      'flag key "Bad-key" does not match AppConfig\'s flag-key rule',
      'values "ok" must be an object with enabled true or false',
      'values has "orphan", which flags does not define',
      'values "Bad-key" percentage must be a number between 0 and 100 (given 200)',
    ]));
    expect(() => flagValuesFromDocument('{"version": "1",')).toThrow(/the content must be JSON/);
    expect(() => flagValuesFromDocument('[]')).toThrow(/must be a JSON object/);
  });
});
