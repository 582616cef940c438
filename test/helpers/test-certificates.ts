// A throw-away certificate authority and a server certificate it signed (for localhost and
// 127.0.0.1), made with the openssl command line, so that a test can run a TLS server that a
// verifying client trusts only when given the CA — as an RDS database is trusted only with the RDS CA.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  /** PEM of the CA certificate. */
  readonly caCertificate: string;
  /** PEM of the server certificate and its private key. */
  readonly serverCertificate: string;
  readonly serverKey: string;
}

/** Makes a CA and a server certificate signed by it, valid for a day. */
export function makeTestCertificates(commonName = 'localhost'): TestCertificates {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-certs-'));
  const path = (name: string) => join(directory, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path('ca.key'), '-out', path('ca.crt'), '-subj', '/CN=sluice test CA', '-days', '1');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', `/CN=${commonName}`);
    writeFileSync(path('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    openssl('x509', '-req', '-in', path('server.csr'), '-CA', path('ca.crt'), '-CAkey', path('ca.key'), '-CAcreateserial', '-out', path('server.crt'), '-days', '1', '-extfile', path('san.ext'));
    return { caCertificate: readFileSync(path('ca.crt'), 'utf8'), serverCertificate: readFileSync(path('server.crt'), 'utf8'), serverKey: readFileSync(path('server.key'), 'utf8') };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
