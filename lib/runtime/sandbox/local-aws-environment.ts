// The environment of a service pointed at the local stand-ins instead of AWS: the SDK's
// AWS_ENDPOINT_URL_<SERVICE> variables name them, as /etc/sluice/env names the stack's resources on
// an instance. Nothing of AWS is inherited (no profile, no credentials, no endpoint of the caller's),
// so a process started this way cannot reach an AWS account, whatever the shell that started it had.

export interface LocalEndpoints {
  readonly kinesis: string;
  readonly dynamodb: string;
  /** @default - none */
  readonly sqs?: string;
}

/** Fake credentials and a fixed region: the stand-ins accept any, and AWS never sees them. */
export const LOCAL_AWS_VARIABLES: Readonly<Record<string, string>> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/** The variables that point the SDK at `endpoints`, with the fake credentials. */
export function localAwsVariables(endpoints: LocalEndpoints): Record<string, string> {
  return {
    ...LOCAL_AWS_VARIABLES,
    AWS_ENDPOINT_URL_KINESIS: endpoints.kinesis,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    ...(endpoints.sqs ? { AWS_ENDPOINT_URL_SQS: endpoints.sqs } : {}),
  };
}

/** `inherited` without any AWS_ variable, then the local endpoints, then `env` (the stack's variables). */
export function localWorkerEnvironment(endpoints: LocalEndpoints, env: Readonly<Record<string, string>>, inherited: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const withoutAws = Object.fromEntries(Object.entries(inherited).filter(([key]) => !key.startsWith('AWS_')));
  return { ...withoutAws, ...localAwsVariables(endpoints), ...env };
}
