// The resource types whose replacement or removal loses data: CloudFormation deletes the old
// physical resource (and what it holds) once the new one exists, or when the resource leaves the
// template. One list, used by the guard and by the logical-ID pin test to find the resources to
// protect; the README lists the same types.

/** CloudFormation types that hold data a replacement or a removal would destroy. */
export const STATEFUL_RESOURCE_TYPES: readonly string[] = [
  // Items, leases, checkpoints, release history.
  'AWS::DynamoDB::Table',
  'AWS::DynamoDB::GlobalTable',
  // Records not yet read (up to the retention period), and the shard sequence numbers checkpoints point at.
  'AWS::Kinesis::Stream',
  // Messages waiting, in flight or dead-lettered.
  'AWS::SQS::Queue',
  // Objects: release artifacts, access logs.
  'AWS::S3::Bucket',
  // Whatever was encrypted under the key becomes unreadable once the key is deleted.
  'AWS::KMS::Key',
  // Log events.
  'AWS::Logs::LogGroup',
  // Databases.
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBCluster',
  // Secret values, which are often not stored anywhere else.
  'AWS::SecretsManager::Secret',
];

export function isStatefulResourceType(type: string | undefined): boolean {
  return type !== undefined && STATEFUL_RESOURCE_TYPES.includes(type);
}
