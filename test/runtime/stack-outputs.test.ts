import { afterEach, describe, expect, it } from 'vitest';
import { StackOutputs } from '../../lib/runtime/stack-contract.ts';
import { readStackOutputs, StackNotFoundError, StackOutputsError } from '../../lib/runtime/stack-outputs.ts';
import { type AwsSimulation, createAwsSimulation } from '../helpers/aws-simulation/create-aws-simulation.ts';

let sim: AwsSimulation;

afterEach(() => sim.restore());

describe('readStackOutputs', () => {
  it('returns the outputs by key', async () => {
    sim = createAwsSimulation();
    const outputs = await sim.run(readStackOutputs(sim.clients.cloudFormation, 'sluice-dev', { clock: sim.clock }));
    expect(outputs[StackOutputs.targetGroupArn]).toBe(sim.names.targetGroupArn);
    expect(outputs[StackOutputs.currentVersionParameterName]).toBe('/sluice/dev/current-version');
  });

  it('says how to deploy a stack that does not exist', async () => {
    sim = createAwsSimulation();
    sim.faults.deleteStack();
    const reading = sim.run(readStackOutputs(sim.clients.cloudFormation, 'sluice-dev', { clock: sim.clock }));
    await expect(reading).rejects.toThrow(StackNotFoundError);
    await expect(reading).rejects.toThrow('stack sluice-dev not found in us-east-1; deploy it with npx cdk deploy -c stage=dev, or pass every output as a flag');
  });

  it('retries throttling', async () => {
    sim = createAwsSimulation();
    sim.faults.failNextCalls(2, { services: ['cloudFormation'] });
    const outputs = await sim.run(readStackOutputs(sim.clients.cloudFormation, 'sluice-dev', { clock: sim.clock }));
    expect(outputs[StackOutputs.autoScalingGroupName]).toBe(sim.names.autoScalingGroupName);
  });

  it('gives up on throttling that does not end, saying which call and how often it was tried', async () => {
    sim = createAwsSimulation();
    sim.faults.failNextCalls(3, { services: ['cloudFormation'] });
    const reading = sim.run(readStackOutputs(sim.clients.cloudFormation, 'sluice-dev', { clock: sim.clock, maxAttempts: 3 }));
    await expect(reading).rejects.toThrow(StackOutputsError);
    await expect(reading).rejects.toThrow(/^DescribeStacks for stack sluice-dev failed: .+; still failing after 3 attempts; wait a minute and rerun$/);
  });
});
