// lambda/migrate.ts, the migration custom resource's handler, against a real PostgreSQL that only
// speaks verified TLS with a certificate of its own CA (as RDS does), the secret read from a
// Secrets Manager simulation: Create applies, Update applies only the new scripts, Delete does
// nothing, a failing script fails the deployment with the runner's message.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambda/migrate.ts';
import { journalRows, publicTables, query, scriptFolder } from '../helpers/migration-scripts.ts';
import { type LocalPostgres, requirePostgres, startPostgres } from '../helpers/postgres-server.ts';
import { makeTestCertificates } from '../helpers/test-certificates.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:sluice-dev-database-AbCdEf';
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/sluice-dev/5b6f0a10-0000-11ef-9000-0a1b2c3d4e5f';

function event(requestType: 'Create' | 'Update' | 'Delete', properties: Record<string, string> = {}): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider',
    ResponseURL: 'https://example.invalid/response',
    StackId: STACK_ID,
    RequestId: `request-${requestType}`,
    LogicalResourceId: 'DatabaseMigrations',
    ResourceType: 'Custom::DatabaseMigrations',
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider', ScriptsHash: 'abc', ...properties },
  };
  if (requestType === 'Create') return { ...common, RequestType: 'Create' };
  if (requestType === 'Update') return { ...common, RequestType: 'Update', PhysicalResourceId: 'sluice-database-migrations', OldResourceProperties: { ServiceToken: common.ServiceToken, ScriptsHash: 'old' } };
  return { ...common, RequestType: 'Delete', PhysicalResourceId: 'sluice-database-migrations' };
}

describe.skipIf(!requirePostgres())('lambda/migrate.ts', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  const certificates = makeTestCertificates();
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-migrate-lambda-'));
  const caFile = join(scratch, 'ca.pem');
  writeFileSync(caFile, certificates.caCertificate);
  let server: LocalPostgres;
  /** Secrets by ARN, as Secrets Manager holds them; an unknown ARN is ResourceNotFoundException. */
  const secrets = new Map<string, string>();

  beforeAll(async () => {
    server = await startPostgres({
      files: { 'server.crt': certificates.serverCertificate, 'server.key': certificates.serverKey },
      settings: { ssl: 'on', ssl_cert_file: 'server.crt', ssl_key_file: 'server.key' },
    });
    secretsManager.on(GetSecretValueCommand).callsFake((input: { SecretId?: string }) => {
      const value = secrets.get(input.SecretId ?? '');
      if (value === undefined) throw new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: { httpStatusCode: 400 } });
      return { ARN: input.SecretId, Name: 'sluice-dev-database', SecretString: value, VersionId: 'v1', VersionStages: ['AWSCURRENT'] };
    });
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });
  afterAll(async () => {
    secretsManager.restore();
    await server?.stop();
  });

  /** A database, its secret (as RDS writes it), and the function's environment pointing at both. */
  async function stage(scripts: Record<string, string>) {
    const url = await server.createDatabase();
    const dbname = new URL(url).pathname.slice(1);
    secrets.set(SECRET_ARN, JSON.stringify({ engine: 'postgres', host: '127.0.0.1', port: server.port, dbname, username: 'postgres', password: 'not-used-by-trust', dbInstanceIdentifier: 'sluice-dev' }));
    const folder = scriptFolder(scripts);
    vi.stubEnv('DATABASE_SECRET_ARN', SECRET_ARN);
    vi.stubEnv('MIGRATIONS_DIR', folder.directory);
    vi.stubEnv('DATABASE_CA_FILE', caFile);
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'sluice-dev-migrate');
    return { url, folder };
  }

  it('Create applies every script over verified TLS and answers the highest migration as Version', async () => {
    // The first script notes how its own connection came in.
    const { url } = await stage({ '0000_baseline.sql': 'CREATE TABLE runner_connection AS SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n', '0001_b.sql': 'CREATE TABLE b (id integer);\n' });
    const response = await handler(event('Create'), { getRemainingTimeInMillis: () => 600_000, awsRequestId: 'aws-request-1' });
    expect(response).toEqual({ PhysicalResourceId: 'sluice-database-migrations', Data: { Version: '1' } });
    const rows = await journalRows(url);
    expect(rows.map((row) => [row.version, row.name])).toEqual([[0, '0000_baseline.sql'], [1, '0001_b.sql']]);
    expect(rows[0]!.applied_by).toBe('sluice-dev-migrate (sluice-dev, request aws-request-1)');
    expect(await query(url, 'SELECT ssl FROM runner_connection')).toEqual([{ ssl: true }]);
  });

  it('Update applies only the new scripts and keeps the physical ID; Delete changes nothing', async () => {
    const { url, folder } = await stage({ '0000_baseline.sql': 'CREATE TABLE a (id integer);\n' });
    expect(await handler(event('Create'))).toEqual({ PhysicalResourceId: 'sluice-database-migrations', Data: { Version: '0' } });
    const before = await journalRows(url);
    folder.write({ '0001_b.sql': 'CREATE TABLE b (id integer);\n', '0002_c.sql': 'CREATE TABLE c (id integer);\n' });
    expect(await handler(event('Update'))).toEqual({ PhysicalResourceId: 'sluice-database-migrations', Data: { Version: '2' } });
    const after = await journalRows(url);
    expect(after.slice(0, 1)).toEqual(before);
    expect(after.map((row) => row.name)).toEqual(['0000_baseline.sql', '0001_b.sql', '0002_c.sql']);

    // Delete never touches the database, even when it could not be reached.
    vi.stubEnv('DATABASE_SECRET_ARN', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone');
    expect(await handler(event('Delete'))).toEqual({ PhysicalResourceId: 'sluice-database-migrations' });
    expect(await journalRows(url)).toEqual(after);
    expect(await publicTables(url)).toEqual(['a', 'b', 'c', 'sluice_migration_journal']);
  });

  it('a failing script fails the deployment with the runner message; nothing of it is applied', async () => {
    const { url, folder } = await stage({ '0000_baseline.sql': 'CREATE TABLE a (id integer);\n' });
    await handler(event('Create'));
    const before = await journalRows(url);
    folder.write({ '0001_b.sql': 'CREATE TABLE b (id integer);\nSELECT * FROM missing;\n' });
    await expect(handler(event('Update'))).rejects.toThrow(/^0001_b\.sql failed and was rolled back entirely; .*relation "missing" does not exist at line 2/);
    expect(await journalRows(url)).toEqual(before);
    expect(await publicTables(url)).toEqual(['a', 'sluice_migration_journal']);
  });

  it('refuses a server whose certificate its CAs do not vouch for, saying what to set', async () => {
    await stage({ '0000_baseline.sql': 'SELECT 1;\n' });
    const otherCa = join(scratch, 'other-ca.pem');
    writeFileSync(otherCa, makeTestCertificates().caCertificate);
    vi.stubEnv('DATABASE_CA_FILE', otherCa);
    await expect(handler(event('Create'))).rejects.toThrow(/could not connect to the database at 127\.0\.0\.1:\d+\/\w+: .*the server's TLS certificate is not trusted: set DATABASE_CA_FILE/);
  });

  it('a missing secret or setting fails with its name', async () => {
    await stage({ '0000_baseline.sql': 'SELECT 1;\n' });
    vi.stubEnv('DATABASE_SECRET_ARN', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone');
    await expect(handler(event('Create'))).rejects.toThrow(/could not read the database secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone: Secrets Manager can't find the specified secret/);
    vi.stubEnv('MIGRATIONS_DIR', '');
    await expect(handler(event('Create'))).rejects.toThrow('MIGRATIONS_DIR is not set: it must name the bundled folder of migration scripts');
  });

  it('Production "true" marks the database production (the marker rebuild refuses)', async () => {
    const { url } = await stage({ '0000_baseline.sql': 'SELECT 1;\n' });
    await handler(event('Create', { Production: 'true' }));
    expect(await query(url, 'SELECT production FROM sluice_environment')).toEqual([{ production: true }]);
  });
});
