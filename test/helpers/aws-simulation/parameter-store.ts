import type { GetParameterCommandOutput, PutParameterCommandInput, PutParameterCommandOutput } from '@aws-sdk/client-ssm';
import { awsError } from './aws-errors.ts';
import type { SimulationContext } from './simulation-context.ts';

/** SSM Parameter Store, String parameters only (the current-version parameter). */
export class SimulatedParameterStore {
  private readonly parameters = new Map<string, { value: string; version: number; modifiedAt: number }>();

  constructor(private readonly context: SimulationContext) {}

  value(name: string): string | undefined {
    return this.parameters.get(name)?.value;
  }

  get(name: string | undefined): GetParameterCommandOutput {
    const parameter = name === undefined ? undefined : this.parameters.get(name);
    if (!name || !parameter) throw awsError('ssm', 'ParameterNotFound', `Parameter ${name ?? ''} not found.`);
    return {
      $metadata: {},
      Parameter: { Name: name, Type: 'String', Value: parameter.value, Version: parameter.version, LastModifiedDate: new Date(parameter.modifiedAt), DataType: 'text' },
    };
  }

  put(input: PutParameterCommandInput): PutParameterCommandOutput {
    const { Name: name, Value: value } = input;
    if (!name || value === undefined) throw awsError('ssm', 'ValidationException', 'Name and Value are required');
    const existing = this.parameters.get(name);
    if (existing && !input.Overwrite) {
      throw awsError('ssm', 'ParameterAlreadyExists', 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.');
    }
    const version = (existing?.version ?? 0) + 1;
    this.parameters.set(name, { value, version, modifiedAt: this.context.clock.now() });
    this.context.log.record('parameter', name, `${existing?.value ?? '(new)'} → ${value}`);
    return { $metadata: {}, Version: version, Tier: 'Standard' };
  }
}
