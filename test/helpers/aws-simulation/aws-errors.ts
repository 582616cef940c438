// Errors shaped like the ones the SDK deserializes from a real response: the service's modelled
// exception class when it has one (so `name`, `$fault` and instanceof match), else its base class.
import * as appConfig from '@aws-sdk/client-appconfig';
import * as appConfigData from '@aws-sdk/client-appconfigdata';
import * as autoScaling from '@aws-sdk/client-auto-scaling';
import * as cloudFormation from '@aws-sdk/client-cloudformation';
import * as cloudWatch from '@aws-sdk/client-cloudwatch';
import * as elbv2 from '@aws-sdk/client-elastic-load-balancing-v2';
import * as s3 from '@aws-sdk/client-s3';
import * as ssm from '@aws-sdk/client-ssm';

export type ServiceName = 'elbv2' | 'ssm' | 'cloudWatch' | 'autoScaling' | 'cloudFormation' | 's3' | 'appConfig' | 'appConfigData';

type ExceptionClass = new (options: { name: string; message: string; $fault: 'client' | 'server'; $metadata: { httpStatusCode: number; requestId: string } }) => Error;

const services: Record<ServiceName, { readonly module: Record<string, unknown>; readonly base: ExceptionClass }> = {
  elbv2: { module: elbv2, base: elbv2.ElasticLoadBalancingV2ServiceException as unknown as ExceptionClass },
  ssm: { module: ssm, base: ssm.SSMServiceException as unknown as ExceptionClass },
  cloudWatch: { module: cloudWatch, base: cloudWatch.CloudWatchServiceException as unknown as ExceptionClass },
  autoScaling: { module: autoScaling, base: autoScaling.AutoScalingServiceException as unknown as ExceptionClass },
  cloudFormation: { module: cloudFormation, base: cloudFormation.CloudFormationServiceException as unknown as ExceptionClass },
  s3: { module: s3, base: s3.S3ServiceException as unknown as ExceptionClass },
  appConfig: { module: appConfig, base: appConfig.AppConfigServiceException as unknown as ExceptionClass },
  appConfigData: { module: appConfigData, base: appConfigData.AppConfigDataServiceException as unknown as ExceptionClass },
};

let requestCounter = 0;

export function awsError(service: ServiceName, name: string, message: string, httpStatusCode = 400): Error {
  const { module, base } = services[service];
  const modelled = module[name];
  const isModelled = typeof modelled === 'function' && Object.prototype.isPrototypeOf.call(base.prototype, modelled.prototype);
  const ErrorClass = (isModelled ? modelled : base) as ExceptionClass;
  requestCounter += 1;
  return new ErrorClass({
    name,
    message,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode, requestId: `simulated-${requestCounter}` },
  });
}

/** The throttling error each service answers with when its request rate is exceeded. */
export function throttlingError(service: ServiceName): Error {
  if (service === 's3') return awsError('s3', 'SlowDown', 'Please reduce your request rate.', 503);
  if (service === 'ssm') return awsError('ssm', 'ThrottlingException', 'Rate exceeded');
  return awsError(service, 'Throttling', 'Rate exceeded');
}

export function internalError(service: ServiceName): Error {
  return awsError(service, service === 'ssm' ? 'InternalServerError' : 'InternalFailure', 'We encountered an internal error. Please try again.', 500);
}
