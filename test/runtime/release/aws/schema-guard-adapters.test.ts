import { afterEach, describe, expect, it } from 'vitest';
import { AwsCallError } from '../../../../lib/runtime/release/aws/aws-call.ts';
import { S3RequiredMigration } from '../../../../lib/runtime/release/aws/s3-required-migration.ts';
import { SsmSchemaVersion } from '../../../../lib/runtime/release/aws/ssm-schema-version.ts';
import { BadInputError } from '../../../../lib/runtime/release/errors.ts';
import { type AwsSimulation, type AwsSimulationOptions, createAwsSimulation } from '../../../helpers/aws-simulation/create-aws-simulation.ts';

let sim: AwsSimulation;

afterEach(() => sim.restore());

describe('SsmSchemaVersion', () => {
  const applied = (options: AwsSimulationOptions) => {
    sim = createAwsSimulation(options);
    const source = new SsmSchemaVersion({ client: sim.clients.ssm, parameterName: sim.names.schemaVersionParameterName, clock: sim.clock });
    return sim.run(source.appliedMigration());
  };

  it('reads the number the stack wrote', async () => {
    expect(await applied({ schemaVersion: '12' })).toBe(12);
    expect(sim.state.calls.map((call) => [call.operation, call.input])).toEqual([['GetParameter', { Name: '/sluice/dev/schema-version' }]]);
    expect(await applied({ schemaVersion: '0' })).toBe(0);
  });

  it('says "no database" when the stage has no parameter', async () => {
    expect(await applied({})).toBeUndefined();
  });

  it('retries a throttled read', async () => {
    sim = createAwsSimulation({ schemaVersion: '3' });
    sim.faults.failNextCalls(2, { services: ['ssm'] });
    const source = new SsmSchemaVersion({ client: sim.clients.ssm, parameterName: sim.names.schemaVersionParameterName, clock: sim.clock });
    expect(await sim.run(source.appliedMigration())).toBe(3);
    expect(sim.state.calls.map((call) => call.error)).toEqual(['ThrottlingException', 'ThrottlingException', undefined]);
  });

  it('refuses a value that is not a migration number', async () => {
    for (const value of ['none', '-1', '2.5', ' 3']) {
      await expect(applied({ schemaVersion: value })).rejects.toThrow(new BadInputError(
        `nothing was changed: /sluice/dev/schema-version holds ${JSON.stringify(value)}, not a migration number; it is written only by the stack's migration custom resource: deploy the stack again (npx cdk deploy) to rewrite it`,
      ));
    }
  });
});

describe('S3RequiredMigration', () => {
  const required = (manifests: Record<string, object>, version: string) => {
    sim = createAwsSimulation({ artifactManifests: manifests });
    const source = new S3RequiredMigration({ client: sim.clients.s3, bucket: sim.names.artifactBucketName, clock: sim.clock });
    return sim.run(source.requiredMigration(version));
  };

  it("reads requiredMigration from the manifest inside the artifact", async () => {
    expect(await required({ '2.0.0': { version: '2.0.0', requiredMigration: 7 } }, '2.0.0')).toBe(7);
    expect(sim.state.calls.map((call) => [call.operation, call.input])).toEqual([['GetObject', { Bucket: sim.names.artifactBucketName, Key: 'releases/2.0.0.tgz' }]]);
  });

  it('is 0 for an artifact built before the manifest recorded it', async () => {
    expect(await required({ '2.0.0': { version: '2.0.0', commit: 'abc' } }, '2.0.0')).toBe(0);
  });

  it('refuses a manifest whose requiredMigration is not a migration number, saying how to rebuild', async () => {
    for (const value of [-1, 1.5, '3', null]) {
      await expect(required({ '2.0.0': { version: '2.0.0', requiredMigration: value } }, '2.0.0')).rejects.toThrow(new BadInputError(
        `nothing was changed: the manifest of s3://${sim.names.artifactBucketName}/releases/2.0.0.tgz has requiredMigration ${JSON.stringify(value)}, not a migration number; rebuild it with npm run package -- 2.0.0 and upload it again`,
      ));
    }
  });

  it('reports an artifact that vanished since it was checked as a failed GetObject', async () => {
    sim = createAwsSimulation({ missingArtifacts: ['2.0.0'] });
    const source = new S3RequiredMigration({ client: sim.clients.s3, bucket: sim.names.artifactBucketName, clock: sim.clock });
    const error = await sim.run(source.requiredMigration('2.0.0')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AwsCallError);
    expect((error as AwsCallError).message).toMatch(/^GetObject for s3:\/\/.*\/releases\/2\.0\.0\.tgz failed: NoSuchKey: /);
  });
});
