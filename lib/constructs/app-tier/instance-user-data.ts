import { readFileSync } from 'node:fs';
import { Aws } from 'aws-cdk-lib';
import { UserData } from 'aws-cdk-lib/aws-ec2';
import { CLOUDWATCH_AGENT_CONFIG_PATH } from './cloudwatch-agent-config.ts';

/**
 * `sluice-install` as instances get it. User data is limited to 16 KB: the script is embedded
 * without its comment lines and blank lines (the file keeps them; it has no heredoc or multi-line
 * string a stripped line could belong to).
 */
export const installScript = readFileSync(new URL('./sluice-install.sh', import.meta.url), 'utf8')
  .split('\n')
  .filter((line, index) => index === 0 || !/^\s*(#|$)/.test(line))
  .join('\n');

/** The two systemd services of an instance, both from one release. */
export const INSTANCE_SERVICES = ['web', 'worker'] as const;
export type InstanceService = (typeof INSTANCE_SERVICES)[number];

/**
 * The file a service's output (its JSON lines, stdout and stderr) is appended to; the CloudWatch
 * agent ships it. `sluice-install` reads the same path (`<root>/var/log/sluice/<name>.log`) for
 * both service managers.
 */
export function serviceLogFile(service: InstanceService): string {
  return `/var/log/sluice/${service}.log`;
}

export interface InstanceUserDataProps {
  readonly artifactBucketName: string;
  readonly currentVersionParameterName: string;
  readonly appPort: number;
  readonly healthCheckPath: string;
  readonly workerStopTimeoutSeconds: number;
  readonly installHealthTimeoutSeconds: number;
  /** More variables for both services, e.g. QUEUE_URL. */
  readonly environment: Readonly<Record<string, string>>;
  /** Where the instance reports that it is ready. */
  readonly readiness: ReadinessSignalProps;
  /** The CloudWatch agent's configuration (cloudWatchAgentConfig): which file goes to which log group. */
  readonly cloudWatchAgentConfig: string;
}

/** The resource signal a new instance sends once it serves, and the load-balancer check before it. */
export interface ReadinessSignalProps {
  readonly region: string;
  readonly stackName: string;
  /** Logical ID of the Auto Scaling group, whose creation and update policies wait for the signal. */
  readonly logicalResourceId: string;
  /** The target group whose health check must pass before the instance signals success. */
  readonly targetGroupArn: string;
  /** How long the instance waits for the load balancer to call it healthy once its own check passed. */
  readonly loadBalancerTimeoutSeconds: number;
  /** @default 5 */
  readonly pollSeconds?: number;
}

/**
 * Boot script for an app-tier instance: Node.js 22, the CloudWatch agent shipping the services' log
 * files, a `sluice` system user, the two systemd services (web app and worker, from one release) and
 * `sluice-install`; then it installs whatever version the
 * current-version parameter names, so an instance launched mid-release comes up on the new version.
 * It signals CloudFormation how that went (see signalOnExitCommands).
 */
/**
 * With a database, the RDS certificate authorities the app and the worker verify its TLS certificate
 * against (DATABASE_CA_FILE, lib/runtime/database.ts): Node.js's own list lacks them. AWS's global
 * bundle covers every commercial region; it is fetched at boot, before any service starts.
 */
const RDS_CA_BUNDLE = { path: '/etc/sluice/rds-ca.pem', url: 'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem' } as const;

export function instanceUserData(props: InstanceUserDataProps): UserData {
  const region = Aws.REGION;
  const userData = UserData.forLinux();
  const database = props.environment.DATABASE_SECRET_ARN !== undefined;
  userData.addCommands(
    'set -euo pipefail',
    // First, so that a failure of any later step (dnf included) is signalled at once.
    ...signalOnExitCommands(props.readiness),
    'dnf install -y nodejs22 amazon-cloudwatch-agent logrotate',
    'id sluice >/dev/null 2>&1 || useradd --system --home-dir /opt/sluice --shell /sbin/nologin sluice',
    'mkdir -p /etc/sluice /opt/sluice/bin /opt/sluice/releases /var/log/sluice',
    // The agent starts before the services and tails their files from the first line on.
    `touch ${INSTANCE_SERVICES.map(serviceLogFile).join(' ')}`,
    heredoc(CLOUDWATCH_AGENT_CONFIG_PATH, props.cloudWatchAgentConfig),
    `/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:${CLOUDWATCH_AGENT_CONFIG_PATH}`,
    // CloudWatch keeps the history; the instance keeps three days. copytruncate: the services keep
    // their file open (systemd's append:), and the agent notices the truncation and reads on from 0.
    heredoc('/etc/logrotate.d/sluice', ['/var/log/sluice/*.log {', 'daily', 'maxsize 100M', 'rotate 3', 'copytruncate', 'compress', 'missingok', 'notifempty', '}'].join('\n')),
    heredoc('/etc/sluice/env', [
      `ARTIFACT_BUCKET=${props.artifactBucketName}`,
      `APP_PORT=${props.appPort}`,
      `HEALTH_CHECK_PATH=${props.healthCheckPath}`,
      `INSTALL_HEALTH_TIMEOUT_SECONDS=${props.installHealthTimeoutSeconds}`,
      `WORKER_STOP_TIMEOUT_SECONDS=${props.workerStopTimeoutSeconds}`,
      `AWS_REGION=${region}`,
      'NODE_ENV=production',
      ...Object.entries(props.environment).map(([name, value]) => `${name}=${value}`),
      ...(database ? [`DATABASE_CA_FILE=${RDS_CA_BUNDLE.path}`] : []),
    ].join('\n')),
    ...(database ? [`curl -fsS --retry 5 -o ${RDS_CA_BUNDLE.path} ${RDS_CA_BUNDLE.url}`] : []),
    'touch /etc/sluice/release.env',
    heredoc('/opt/sluice/bin/sluice-install', installScript.trimEnd()),
    'chmod 0755 /opt/sluice/bin/sluice-install',
    heredoc('/etc/systemd/system/sluice-web.service', serviceUnit({
      service: 'web',
      description: 'sluice web app',
      entry: 'server.mjs',
      // The ALB has already drained this target when the release stops it; 30 s covers a slow request.
      stopTimeoutSeconds: 30,
    })),
    heredoc('/etc/systemd/system/sluice-worker.service', serviceUnit({
      service: 'worker',
      description: 'sluice background worker',
      entry: 'worker.mjs',
      stopTimeoutSeconds: props.workerStopTimeoutSeconds,
    })),
    'systemctl daemon-reload',
    'systemctl enable sluice-web.service sluice-worker.service',
    `version="$(aws ssm get-parameter --region ${region} --name '${props.currentVersionParameterName}' --query Parameter.Value --output text)"`,
    // Before the first release the parameter holds "none": a placeholder release answers the health
    // check (so the group does not replace the instance over and over) and 503 to everything else,
    // until `sluice release` puts the first real version in its place.
    'if [[ "$version" == "none" ]]; then',
    '  mkdir -p /opt/sluice/releases/none',
    heredoc('/opt/sluice/releases/none/server.mjs', placeholderServer),
    heredoc('/opt/sluice/releases/none/worker.mjs', "console.log('sluice: no release yet; the worker starts with the first one');"),
    // Marked complete, so a first release that rolls back can `sluice-install none` to return here.
    '  touch /opt/sluice/releases/none/.complete',
    "  printf 'SLUICE_VERSION=none\\n' > /etc/sluice/release.env",
    '  ln -sfn /opt/sluice/releases/none /opt/sluice/current',
    '  systemctl start sluice-web.service sluice-worker.service',
    'else',
    '  /opt/sluice/bin/sluice-install "$version"',
    'fi',
    ...waitForLoadBalancerCommands(props.readiness),
  );
  return userData;
}

/**
 * CloudFormation waits for one signal per new instance when it creates the group (creation policy)
 * and when it rolls a launch template change out (rolling update): SUCCESS once the current version is
 * installed, its local health check passed and the load balancer calls the instance healthy; FAILURE
 * as soon as any boot step fails, which fails the deploy and rolls it back. At other launches
 * (scale-out, replacement of an unhealthy instance) nothing waits, CloudFormation refuses the signal,
 * and the boot does not care.
 *
 * The AWS CLI sends it (`aws cloudformation signal-resource`, allowed on this stack only): AL2023 has
 * no `cfn-signal`, which would need the aws-cfn-bootstrap package, so a failing `dnf` could not be
 * signalled. Comments stay here rather than in the script: user data is limited to 16 KB.
 */
export function signalOnExitCommands(props: ReadinessSignalProps): string[] {
  return [
    "imds_token=\"$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 3600')\"",
    'instance_id="$(curl -fsS -H "X-aws-ec2-metadata-token: ${imds_token}" http://169.254.169.254/latest/meta-data/instance-id)"',
    'signal_cloudformation() {',
    '  local status=FAILURE',
    '  if [[ "$1" == 0 ]]; then status=SUCCESS; fi',
    '  echo "sluice boot: exit status $1, signalling ${status}"',
    `  aws cloudformation signal-resource --region ${props.region} --stack-name ${props.stackName} --logical-resource-id ${props.logicalResourceId} --unique-id "$instance_id" --status "$status" >/dev/null \\`,
    '    || echo "sluice boot: signal not accepted (nothing waits for this instance)" >&2',
    '}',
    "trap 'signal_cloudformation $?' EXIT",
  ];
}

/**
 * After the install's local health check: the load balancer's must pass too, as a release waits for
 * it. A version that listens on 127.0.0.1 only passes the first and fails the second, and a rolling
 * update that went on to the next instance would replace the whole fleet with ones nobody can reach.
 */
export function waitForLoadBalancerCommands(props: ReadinessSignalProps): string[] {
  const timeout = props.loadBalancerTimeoutSeconds;
  return [
    `healthy_deadline=$((SECONDS + ${timeout}))`,
    `until [[ "$(aws elbv2 describe-target-health --region ${props.region} --target-group-arn ${props.targetGroupArn} --targets "Id=\${instance_id}" --query 'TargetHealthDescriptions[0].TargetHealth.State' --output text 2>/dev/null || true)" == healthy ]]; do`,
    '  if (( SECONDS >= healthy_deadline )); then',
    `    echo "sluice boot: the load balancer did not report \${instance_id} healthy within ${timeout}s" >&2`,
    '    exit 1',
    '  fi',
    `  sleep ${props.pollSeconds ?? 5}`,
    'done',
    'echo "sluice boot: ${instance_id} serves through the load balancer"',
  ];
}

/** The "none" release: healthy, reporting version none, and 503 for every request. */
const placeholderServer = [
  "import { createServer } from 'node:http';",
  'const health = process.env.HEALTH_CHECK_PATH;',
  'createServer((request, response) => {',
  "  const healthy = request.url?.split('?')[0] === health;",
  "  response.writeHead(healthy ? 200 : 503, { 'Content-Type': 'application/json' });",
  "  response.end(JSON.stringify(healthy ? { status: 'ok', version: 'none' } : { error: 'no release yet: run sluice release <version>' }));",
  '}).listen(Number(process.env.APP_PORT));',
].join('\n');

interface ServiceUnitProps {
  readonly service: InstanceService;
  readonly description: string;
  readonly entry: string;
  readonly stopTimeoutSeconds: number;
}

function serviceUnit(props: ServiceUnitProps): string {
  return [
    '[Unit]',
    `Description=${props.description}`,
    'After=network-online.target',
    'Wants=network-online.target',
    'ConditionPathExists=/opt/sluice/current',
    '',
    '[Service]',
    'User=sluice',
    'EnvironmentFile=/etc/sluice/env',
    'EnvironmentFile=/etc/sluice/release.env',
    'WorkingDirectory=/opt/sluice/current',
    // Stack traces name the TypeScript sources through the release's .map files.
    `ExecStart=/usr/bin/node-22 --enable-source-maps ${props.entry}`,
    // Into the file the CloudWatch agent ships (stderr follows: systemd's StandardError=inherit).
    // systemd opens it before the sandbox below applies, so ProtectSystem=strict does not stand in the way.
    `StandardOutput=append:${serviceLogFile(props.service)}`,
    'Restart=on-failure',
    'RestartSec=2',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${props.stopTimeoutSeconds}`,
    'NoNewPrivileges=true',
    'ProtectSystem=strict',
    'ProtectHome=true',
    'PrivateTmp=true',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ].join('\n');
}

/** Writes `content` to `path` verbatim (quoted heredoc: no shell expansion inside). */
function heredoc(path: string, content: string): string {
  return `cat > ${path} <<'SLUICE_EOF'\n${content}\nSLUICE_EOF`;
}
