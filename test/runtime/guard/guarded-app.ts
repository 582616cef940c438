// The app the guard tests synthesize: stateful resources of the kinds the guard protects, in
// variants that change, move or remove them.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface Variant {
  readonly tableKey?: string;
  readonly tableUnder?: string;
  readonly fifo?: boolean;
  readonly withUploads?: boolean;
  readonly withArchive?: boolean;
  readonly tag?: string;
  readonly stackName?: string;
}

/**
 * A small app of the shape the guard protects, synthesized into its own directory with the path
 * metadata `cdk synth` writes: a table, a queue, a bucket that is deleted with the stack (Uploads)
 * and one that is kept (Archive).
 */
export function synthGuardedApp(scratch: string, variant: Variant = {}): { dir: string; ids: Record<string, string> } {
  const dir = mkdtempSync(join(scratch, 'assembly-'));
  const app = new App({ outdir: dir, context: { 'aws:cdk:enable-path-metadata': true } });
  const stack = new Stack(app, 'Guarded', { stackName: variant.stackName ?? 'guarded' });
  const scope = variant.tableUnder ? new Construct(stack, variant.tableUnder) : stack;
  const table = new Table(scope, 'Orders', { partitionKey: { name: variant.tableKey ?? 'orderId', type: AttributeType.STRING }, removalPolicy: RemovalPolicy.DESTROY });
  const queue = new Queue(stack, 'Work', { fifo: variant.fifo });
  const uploads = variant.withUploads === false ? undefined : new Bucket(stack, 'Uploads', { removalPolicy: RemovalPolicy.DESTROY });
  const archive = variant.withArchive === false ? undefined : new Bucket(stack, 'Archive', { removalPolicy: RemovalPolicy.RETAIN });
  if (variant.tag) Tags.of(stack).add('team', variant.tag);
  app.synth();
  const id = (construct: Construct | undefined) => (construct ? stack.getLogicalId(construct.node.defaultChild as CfnElement) : '');
  return { dir, ids: { table: id(table), queue: id(queue), uploads: id(uploads), archive: id(archive) } };
}

