// Placeholder for the migration custom resource's handler, so that the stack synthesizes on this
// branch: the real handler (runner in lib/runtime/migrations/) replaces this file at merge.
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

export async function handler(_event: CloudFormationCustomResourceEvent): Promise<{ PhysicalResourceId: string; Data: { Version: string } }> {
  throw new Error('lambda/migrate.ts: not implemented in this branch');
}
