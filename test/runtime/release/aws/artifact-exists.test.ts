import { afterEach, describe, expect, it } from 'vitest';
import { missingArtifactKeys } from '../../../../lib/runtime/release/aws/artifact-exists.ts';
import { BadInputError } from '../../../../lib/runtime/release/errors.ts';
import { type AwsSimulation, createAwsSimulation } from '../../../helpers/aws-simulation/create-aws-simulation.ts';

let sim: AwsSimulation;

afterEach(() => sim.restore());

describe('missingArtifactKeys', () => {
  it('finds an uploaded artifact and its checksum, and names what is missing', async () => {
    sim = createAwsSimulation({ missingArtifacts: ['2.0.0'], missingChecksums: ['3.0.0'] });
    const bucket = sim.names.artifactBucketName;
    const missing = (version: string) => sim.run(missingArtifactKeys(sim.clients.s3, bucket, version, { clock: sim.clock }));
    expect(await missing('1.0.0')).toEqual([]);
    expect(sim.state.calls.map((call) => call.input)).toEqual([
      { Bucket: bucket, Key: 'releases/1.0.0.tgz' },
      { Bucket: bucket, Key: 'releases/1.0.0.tgz.sha256' },
    ]);
    expect(await missing('2.0.0')).toEqual(['releases/2.0.0.tgz', 'releases/2.0.0.tgz.sha256']);
    expect(await missing('3.0.0')).toEqual(['releases/3.0.0.tgz.sha256']);
  });

  it('rejects a version that is not a valid key part before asking S3', async () => {
    sim = createAwsSimulation();
    await expect(sim.run(missingArtifactKeys(sim.clients.s3, sim.names.artifactBucketName, '../secrets'))).rejects.toBeInstanceOf(BadInputError);
    expect(sim.state.calls).toHaveLength(0);
  });

  it('retries S3 SlowDown', async () => {
    sim = createAwsSimulation();
    sim.faults.failNextCalls(2, { services: ['s3'] });
    expect(await sim.run(missingArtifactKeys(sim.clients.s3, sim.names.artifactBucketName, '1.0.0', { clock: sim.clock }))).toEqual([]);
    expect(sim.state.calls.map((call) => call.error)).toEqual(['SlowDown', 'SlowDown', undefined, undefined]);
  });
});
