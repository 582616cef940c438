import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';

/**
 * Table settings shared by sluice's state tables (checkpoints, release lock and history):
 * on-demand billing, point-in-time recovery, a KMS key in the account, and — where the data must
 * outlive the stack — deletion protection and RETAIN.
 */
export function durableTableProps(retain: boolean): Pick<
  dynamodb.TableProps,
  'billingMode' | 'encryption' | 'pointInTimeRecoverySpecification' | 'deletionProtection' | 'removalPolicy'
> {
  return {
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: retain,
    removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  };
}
