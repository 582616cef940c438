// The Kinesis client of the web app, the worker and the CLI. The SDK's Kinesis client speaks HTTP/2, which AWS
// serves; the local stand-ins (kinesalite) speak HTTP/1.1 only, so when the endpoint is overridden —
// by AWS_ENDPOINT_URL_KINESIS or AWS_ENDPOINT_URL, which the SDK honours by itself — the client gets
// an HTTP/1.1 handler instead.
import { KinesisClient, type KinesisClientConfig } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** True when the environment points Kinesis away from AWS. */
export function kinesisEndpointOverridden(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.AWS_ENDPOINT_URL_KINESIS || env.AWS_ENDPOINT_URL);
}

export function createKinesisClient(env: Readonly<Record<string, string | undefined>>, config: KinesisClientConfig = {}): KinesisClient {
  const http1 = kinesisEndpointOverridden(env) || config.endpoint !== undefined;
  return new KinesisClient({ ...(http1 ? { requestHandler: new NodeHttpHandler() } : {}), ...config });
}
