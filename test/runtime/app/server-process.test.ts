// bin/server.ts as systemd runs it: its clients built from the environment alone (/etc/sluice/env),
// refusing to start without where POST /jobs and POST /events go, and exiting 0 on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPoints, emfDocuments, sumOf } from '../../helpers/emf.ts';
import { freePort } from '../../helpers/haproxy.ts';
import { type LocalKinesis, startKinesalite } from '../../helpers/kinesalite.ts';
import { type LocalSqs, startLocalSqs } from '../../helpers/local-sqs.ts';
import { projectRoot } from '../../helpers/run-cdk.ts';

let sqs: LocalSqs;
let kinesis: LocalKinesis;
const children: ChildProcess[] = [];
beforeAll(async () => {
  [sqs, kinesis] = await Promise.all([startLocalSqs(), startKinesalite()]);
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all([sqs?.stop(), kinesis?.stop()]);
});

function startServer(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/server.ts'], { cwd: projectRoot, env: { PATH: process.env.PATH, ...env } });
  children.push(child);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  return { child, output: () => output };
}

function post(port: number, path: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('bin/server.ts', () => {
  it('exits 1, saying what to set, without WORK_QUEUE_URL and EVENT_STREAM_NAME', async () => {
    const { child, output } = startServer({ APP_PORT: String(await freePort()) });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output()).toContain('"reason":"WORK_QUEUE_URL and EVENT_STREAM_NAME must be set (in /etc/sluice/env on an instance)"');
  });

  it('exits 1, naming the variable, when SLUICE_STAGE is not a stage name', async () => {
    const { child, output } = startServer({ APP_PORT: String(await freePort()), WORK_QUEUE_URL: 'http://127.0.0.1:1/q', EVENT_STREAM_NAME: 'events', SLUICE_STAGE: 'Prod Stage' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output()).toContain('SLUICE_STAGE must be a stage name: 1 to 20 lower-case letters, digits or \\"-\\", starting with a letter (given \\"Prod Stage\\")');
  });

  it('enqueues jobs and puts events where its environment says, and exits 0 on SIGTERM, its metrics written', async () => {
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 });
    const streamName = await kinesis.createStream();
    const port = await freePort();
    const { child, output } = startServer({
      APP_PORT: String(port),
      SLUICE_VERSION: 'b2c3d4e',
      SLUICE_STAGE: 'dev',
      WORK_QUEUE_URL: queueUrl,
      EVENT_STREAM_NAME: streamName,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      // An overridden Kinesis endpoint gets the HTTP/1.1 handler kinesalite needs.
      AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
    });
    let job: { status: number; json: Record<string, unknown> } | undefined;
    for (let attempt = 0; attempt < 200 && job === undefined; attempt += 1) {
      job = await post(port, '/jobs', '{"type":"send-invoice"}').catch(() => undefined);
      if (job === undefined) await sleep(50);
    }
    expect(job).toMatchObject({ status: 202 });
    expect((await sqs.receiveAll(queueUrl)).map((message) => [message.MessageId, message.Body])).toEqual([[job!.json.messageId, '{"type":"send-invoice"}']]);
    expect(await post(port, '/events', '{"key":"user-42"}')).toMatchObject({ status: 202, json: { shardId: 'shardId-000000000000' } });

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    // No FLAGS_* variables: the code defaults, said once rather than per request.
    expect(output().match(/"event":"flags.code_defaults"/g)).toHaveLength(1);
    // Written at the stop, on standard output beside the log lines: what the CloudWatch agent ships.
    const points = dataPoints(emfDocuments(output().split('\n')));
    const web = { Stage: 'dev', Service: 'web' };
    expect(sumOf(points, 'Requests', { ...web, Route: '/jobs', StatusClass: '2xx' })).toBe(1);
    expect(sumOf(points, 'Requests', { ...web, Route: '/events', StatusClass: '2xx' })).toBe(1);
    expect(sumOf(points, 'JobsAccepted', web)).toBe(1);
  });
});

describe('bin/server.ts feature flags', () => {
  it('exits 1 naming what is missing when only part of the FLAGS_* variables is set', async () => {
    const { child, output } = startServer({ APP_PORT: String(await freePort()), WORK_QUEUE_URL: 'http://127.0.0.1:1/q', EVENT_STREAM_NAME: 'events', FLAGS_APPLICATION_ID: 'app1234' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output()).toContain('"reason":"FLAGS_ENVIRONMENT_ID and FLAGS_CONFIGURATION_PROFILE_ID must be set beside FLAGS_APPLICATION_ID (the stack writes all three to /etc/sluice/env), or none of them for code defaults"');
  });
});
