import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { type Clock, systemClock } from '../../clock.ts';
import { BadInputError } from '../errors.ts';
import type { SchemaVersionSource } from '../schema-guard.ts';
import { callAws, type RetryPolicy } from './aws-call.ts';

export interface SsmSchemaVersionProps {
  readonly client: SSMClient;
  /** `/sluice/<stage>/schema-version` (schemaVersionParameterName). */
  readonly parameterName: string;
  /** @default systemClock */
  readonly clock?: Clock;
  readonly retry?: RetryPolicy;
}

/**
 * The stage's schema-version parameter, which the stack writes from the migration custom resource's
 * result: a stage without a database has no such parameter.
 */
export class SsmSchemaVersion implements SchemaVersionSource {
  readonly location: string;

  constructor(private readonly props: SsmSchemaVersionProps) {
    this.location = `SSM parameter ${props.parameterName}`;
  }

  async appliedMigration(signal?: AbortSignal): Promise<number | undefined> {
    const { client, parameterName } = this.props;
    const notFound = (error: unknown) => error instanceof Error && error.name === 'ParameterNotFound';
    let value: string | undefined;
    try {
      const response = await callAws(
        {
          clock: this.props.clock ?? systemClock,
          operation: 'GetParameter',
          subject: `parameter ${parameterName}`,
          hint: 'check the AWS region and that the credentials allow ssm:GetParameter on it',
          signal,
          retry: this.props.retry,
          expected: notFound,
        },
        (abortSignal) => client.send(new GetParameterCommand({ Name: parameterName }), { abortSignal }),
      );
      value = response.Parameter?.Value;
    } catch (error) {
      if (notFound(error)) return undefined;
      throw error;
    }
    if (value === undefined || !/^\d+$/.test(value)) {
      throw new BadInputError(
        `nothing was changed: ${parameterName} holds ${JSON.stringify(value ?? null)}, not a migration number; it is written only by the stack's migration custom resource: deploy the stack again (npx cdk deploy) to rewrite it`,
      );
    }
    return Number(value);
  }
}
