import { readFileSync } from 'node:fs';
import { Aws } from 'aws-cdk-lib';
import { UserData } from 'aws-cdk-lib/aws-ec2';

/**
 * `sluice-install` as instances get it. User data is limited to 16 KB: the script is embedded
 * without its comment lines and blank lines (the file keeps them; it has no heredoc or multi-line
 * string a stripped line could belong to).
 */
export const installScript = readFileSync(new URL('./sluice-install.sh', import.meta.url), 'utf8')
  .split('\n')
  .filter((line, index) => index === 0 || !/^\s*(#|$)/.test(line))
  .join('\n');

export interface InstanceUserDataProps {
  readonly artifactBucketName: string;
  readonly currentVersionParameterName: string;
  readonly appPort: number;
  readonly healthCheckPath: string;
  readonly workerStopTimeoutSeconds: number;
  readonly installHealthTimeoutSeconds: number;
  /** More variables for both services, e.g. QUEUE_URL. */
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * Boot script for an app-tier instance: Node.js 22, a `sluice` system user, the two systemd services
 * (web app and worker, from one release) and `sluice-install`; then it installs whatever version the
 * current-version parameter names, so an instance launched mid-release comes up on the new version.
 */
export function instanceUserData(props: InstanceUserDataProps): UserData {
  const region = Aws.REGION;
  const userData = UserData.forLinux();
  userData.addCommands(
    'set -euo pipefail',
    'dnf install -y nodejs22',
    'id sluice >/dev/null 2>&1 || useradd --system --home-dir /opt/sluice --shell /sbin/nologin sluice',
    'mkdir -p /etc/sluice /opt/sluice/bin /opt/sluice/releases',
    heredoc('/etc/sluice/env', [
      `ARTIFACT_BUCKET=${props.artifactBucketName}`,
      `APP_PORT=${props.appPort}`,
      `HEALTH_CHECK_PATH=${props.healthCheckPath}`,
      `INSTALL_HEALTH_TIMEOUT_SECONDS=${props.installHealthTimeoutSeconds}`,
      `WORKER_STOP_TIMEOUT_SECONDS=${props.workerStopTimeoutSeconds}`,
      `AWS_REGION=${region}`,
      'NODE_ENV=production',
      ...Object.entries(props.environment).map(([name, value]) => `${name}=${value}`),
    ].join('\n')),
    'touch /etc/sluice/release.env',
    heredoc('/opt/sluice/bin/sluice-install', installScript.trimEnd()),
    'chmod 0755 /opt/sluice/bin/sluice-install',
    heredoc('/etc/systemd/system/sluice-web.service', serviceUnit({
      description: 'sluice web app',
      entry: 'server.mjs',
      // The ALB has already drained this target when the release stops it; 30 s covers a slow request.
      stopTimeoutSeconds: 30,
    })),
    heredoc('/etc/systemd/system/sluice-worker.service', serviceUnit({
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
  );
  return userData;
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
