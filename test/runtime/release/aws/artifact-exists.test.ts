import { afterEach, describe, expect, it } from 'vitest';
import { artifactExists } from '../../../../lib/runtime/release/aws/artifact-exists.ts';
import { BadInputError } from '../../../../lib/runtime/release/errors.ts';
import { type AwsSimulation, createAwsSimulation } from '../../../helpers/aws-simulation/create-aws-simulation.ts';

let sim: AwsSimulation;

afterEach(() => sim.restore());

describe('artifactExists', () => {
  it('finds an uploaded artifact and not a missing one', async () => {
    sim = createAwsSimulation({ missingArtifacts: ['2.0.0'] });
    const bucket = sim.names.artifactBucketName;
    expect(await sim.run(artifactExists(sim.clients.s3, bucket, '1.0.0', { clock: sim.clock }))).toBe(true);
    expect(await sim.run(artifactExists(sim.clients.s3, bucket, '2.0.0', { clock: sim.clock }))).toBe(false);
    expect(sim.state.calls.at(-1)?.input).toEqual({ Bucket: bucket, Key: 'releases/2.0.0.tgz' });
  });

  it('rejects a version that is not a valid key part before asking S3', async () => {
    sim = createAwsSimulation();
    await expect(sim.run(artifactExists(sim.clients.s3, sim.names.artifactBucketName, '../secrets'))).rejects.toBeInstanceOf(BadInputError);
    expect(sim.state.calls).toHaveLength(0);
  });

  it('retries S3 SlowDown', async () => {
    sim = createAwsSimulation();
    sim.faults.failNextCalls(2, { services: ['s3'] });
    expect(await sim.run(artifactExists(sim.clients.s3, sim.names.artifactBucketName, '1.0.0', { clock: sim.clock }))).toBe(true);
    expect(sim.state.calls.map((call) => call.error)).toEqual(['SlowDown', 'SlowDown', undefined]);
  });
});
