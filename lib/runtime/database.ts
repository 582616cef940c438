// Where the app's PostgreSQL database is, for everything that connects to it (the worker, the web
// app's start-up check, the migration custom resource, `sluice migrate`):
//   - DATABASE_URL: a connection string (local development, `sluice migrate --database-url`);
//   - DATABASE_SECRET_ARN: an RDS-style Secrets Manager secret (JSON with host, port, dbname,
//     username, password), as the stack sets on instances and on the migration function. Its
//     connections always use TLS and verify the server's certificate and host name: the password
//     is not sent to a server that cannot prove it is the database. Node's own CA list does not hold
//     the RDS certificate authorities, so DATABASE_CA_FILE names a PEM bundle that does (on EC2 the
//     RDS global bundle, on Lambda the runtime's /var/runtime/ca-cert.pem); its certificates are
//     trusted in addition to Node's. The password is read again for new connections (at most once a
//     minute), so a rotated secret is picked up without a restart.
// Neither set: there is no database (the worker records nothing, the app checks nothing).
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { formatProblems } from './problems.ts';

/** How long a secret's password is reused before it is read again for a new connection. */
const SECRET_REFRESH_MS = 60_000;

/** The environment does not describe a usable database connection. */
export class DatabaseConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseConfigurationError';
  }
}

/** Connecting failed; the message says what to check. */
export class DatabaseConnectionError extends Error {
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
    this.name = 'DatabaseConnectionError';
  }
}

export interface DatabaseEnvironment {
  readonly DATABASE_URL?: string;
  readonly DATABASE_SECRET_ARN?: string;
  readonly DATABASE_CA_FILE?: string;
}

export interface DatabaseConfigOptions {
  /** Reads DATABASE_SECRET_ARN; called only when it is set. @default - none: a secret ARN is a configuration error */
  readonly secretsManager?: () => Pick<SecretsManagerClient, 'send'>;
  /** Added to every connection (shown in pg_stat_activity, and by a waiting migration runner). */
  readonly applicationName?: string;
}

/** The fields of an RDS-style secret that a connection needs. */
interface DatabaseSecret {
  readonly host: string;
  readonly port: number;
  readonly dbname: string;
  readonly username: string;
  readonly password: string;
}

/**
 * The connection settings the environment describes, for a pg Client or Pool; undefined when
 * neither DATABASE_URL nor DATABASE_SECRET_ARN is set. Throws DatabaseConfigurationError naming
 * the variable (or the secret's field) and the fix.
 */
export async function databaseConfigFromEnvironment(env: DatabaseEnvironment, options: DatabaseConfigOptions = {}): Promise<pg.ClientConfig | undefined> {
  const url = env.DATABASE_URL || undefined;
  const secretArn = env.DATABASE_SECRET_ARN || undefined;
  const application = options.applicationName ? { application_name: options.applicationName } : {};
  if (url !== undefined && secretArn !== undefined) {
    throw new DatabaseConfigurationError('DATABASE_URL and DATABASE_SECRET_ARN are both set: set DATABASE_URL for a local database or DATABASE_SECRET_ARN for the stack\'s, not both');
  }
  if (url !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new DatabaseConfigurationError(`DATABASE_URL must be a connection string postgres://user:password@host:port/database (given one starting "${url.slice(0, 12)}")`);
    }
    return { connectionString: url, ...application };
  }
  if (secretArn === undefined) return undefined;
  if (!options.secretsManager) throw new DatabaseConfigurationError('DATABASE_SECRET_ARN is set but this process has no Secrets Manager client to read it');
  const client = options.secretsManager();
  const readSecret = async () => parseDatabaseSecret(secretArn, await secretString(client, secretArn));
  const first = await readSecret();
  let password = { value: first.password, readAt: Date.now() };
  return {
    host: first.host,
    port: first.port,
    database: first.dbname,
    user: first.username,
    // Called for every new connection: a rotated password reaches the pool within a minute.
    password: async () => {
      if (Date.now() - password.readAt >= SECRET_REFRESH_MS) password = { value: (await readSecret()).password, readAt: Date.now() };
      return password.value;
    },
    ssl: { rejectUnauthorized: true, ...(await certificateAuthorities(env.DATABASE_CA_FILE)) },
    ...application,
  };
}

/** Node's CA list plus DATABASE_CA_FILE's (a `ca` option replaces Node's list, so both are given). */
async function certificateAuthorities(caFile: string | undefined): Promise<{ ca?: string[] }> {
  if (!caFile) return {};
  let pem: string;
  try {
    pem = await readFile(caFile, 'utf8');
  } catch (error) {
    throw new DatabaseConfigurationError(`DATABASE_CA_FILE ${caFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): point it at a PEM bundle of the database's certificate authorities`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new DatabaseConfigurationError(`DATABASE_CA_FILE ${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return { ca: [...rootCertificates, pem] };
}

async function secretString(client: Pick<SecretsManagerClient, 'send'>, secretArn: string): Promise<string> {
  try {
    const answer = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (answer.SecretString === undefined) throw new DatabaseConfigurationError(`the secret ${secretArn} has no SecretString: the database secret must be the JSON RDS writes`);
    return answer.SecretString;
  } catch (error) {
    if (error instanceof DatabaseConfigurationError) throw error;
    throw new DatabaseConnectionError(`could not read the database secret ${secretArn}: ${(error as Error).message} (does this role have secretsmanager:GetSecretValue on it, and its KMS key's kms:Decrypt?)`, error);
  }
}

/** Checks the secret's JSON, listing every missing or malformed field. */
export function parseDatabaseSecret(secretArn: string, text: string): DatabaseSecret {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new DatabaseConfigurationError(`the secret ${secretArn} is not JSON: the database secret must be the JSON RDS writes (host, port, dbname, username, password)`);
  }
  const problems: string[] = [];
  for (const field of ['host', 'dbname', 'username', 'password'] as const) {
    if (typeof value[field] !== 'string' || value[field] === '') problems.push(`${field} must be a non-empty string`);
  }
  const port = typeof value.port === 'string' ? Number(value.port) : value.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) problems.push(`port must be a whole number between 1 and 65535 (given ${JSON.stringify(value.port)})`);
  if (problems.length > 0) throw new DatabaseConfigurationError(`the secret ${secretArn} is not a usable database secret:\n${formatProblems(problems)}`);
  return { host: value.host as string, port: port as number, dbname: value.dbname as string, username: value.username as string, password: value.password as string };
}

/** TLS errors that mean "the server's certificate is not trusted here", not "the network is down". */
const UNTRUSTED_CERTIFICATE = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_UNTRUSTED', 'ERR_TLS_CERT_ALTNAME_INVALID']);

/** Opens one connection; a failure becomes a DatabaseConnectionError that says what to check. */
export async function connectDatabase(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client({ connectionTimeoutMillis: 10_000, ...config });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new DatabaseConnectionError(`could not connect to the database at ${describeTarget(config)}: ${(error as Error).message}${connectionHint(error)}`, error);
  }
  return client;
}

function describeTarget(config: pg.ClientConfig): string {
  if (config.connectionString) {
    const url = new URL(config.connectionString);
    return `${url.hostname}:${url.port || 5432}${url.pathname}`;
  }
  return `${config.host}:${config.port ?? 5432}/${config.database ?? ''}`;
}

function connectionHint(error: unknown): string {
  const code = (error as { code?: string }).code ?? '';
  if (UNTRUSTED_CERTIFICATE.has(code)) {
    return ' (the server\'s TLS certificate is not trusted: set DATABASE_CA_FILE to a PEM bundle of its certificate authorities — for RDS the global bundle, on Lambda /var/runtime/ca-cert.pem)';
  }
  if (code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || /timeout/i.test((error as Error).message)) {
    return ' (is the database running, and does its security group let this host in?)';
  }
  if (code === '28P01' || code === '28000') return ' (the user or password was refused: a rotated secret, or the wrong DATABASE_URL?)';
  if (code === '3D000') return ' (that database does not exist: create it, or fix the name in DATABASE_URL)';
  return '';
}
