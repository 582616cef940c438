// A CDK app with the project's policy checks and one deliberately non-compliant resource: a log
// group kept 90 days and not encrypted with a KMS key (Control Tower CT.CLOUDWATCH.PR.2 and PR.3,
// which cdk-nag's AWS Solutions pack does not check). `cdk synth` of it must fail.
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { addPolicyChecks } from '../../lib/constructs/policy-checks/control-tower.ts';

const app = new App();
const stack = new Stack(app, 'policy-violating');
new logs.LogGroup(stack, 'PlainLogGroup', { retention: logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
addPolicyChecks(app);
