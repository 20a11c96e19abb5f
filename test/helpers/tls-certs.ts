/**
 * A throwaway certificate authority for TLS tests, made by openssl in `dir`: a CA, a server certificate for
 * 127.0.0.1 / localhost (plus any `serverNames`), and a client certificate for mutual TLS. Valid one day.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface TestCertificates {
  /** CA certificate (PEM): what a client or server trusts. */
  ca: string;
  /** Server certificate and key (PEM). */
  cert: string;
  key: string;
  /** Client certificate and key (PEM), signed by the same CA. */
  clientCert: string;
  clientKey: string;
}

export function makeCertificates(dir: string, serverNames: string[] = []): TestCertificates {
  const file = (name: string) => path.join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem'].concat([
      '-days',
      '1',
      '-subj',
      '/CN=serflow-test-ca',
    ]),
  );
  const signed = (name: string, subject: string, ext: string) => {
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    fs.writeFileSync(file(`${name}.ext`), ext);
    run(
      ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
        '-out',
        `${name}.pem`,
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
      ]),
    );
  };
  const dns = ['localhost', ...serverNames].map((n) => `DNS:${n}`).join(',');
  signed('server', '/CN=127.0.0.1', `subjectAltName=IP:127.0.0.1,${dns}\nextendedKeyUsage=serverAuth\n`);
  signed('client', '/CN=serflow-test-client', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: file('ca.pem'),
    cert: file('server.pem'),
    key: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
  };
}
