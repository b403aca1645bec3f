/**
 * givenPki(): a throw-away PKI made at test time with the openssl CLI (root CA, server
 * certificate for localhost/127.0.0.1, a client certificate with a SPIFFE URI SAN for the
 * health check, and the root's CRL: production requires a revocation source for every CA). Used by the sandbox and container tiers. Keys are written into a temp dir
 * and handed to uid 10001 (the runtime user) read-only; nothing is committed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {opensslOk} from '../../fixtures/openssl';

export interface Pki {
  dir: string;
  caCert: string;
  /** The root CA's CRL (PEM, revokes nothing, valid 2 days): TLS_CRL_FILES. */
  crl: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** URI SAN of the client certificate (allow it with MTLS_ALLOWED_SUBJECTS=uri:<this>). */
  clientUri: string;
  /** The CA key (root-only, 0400) when asked for with keepCaKey; otherwise deleted at once. */
  caKey?: string;
  cleanup(): void;
}

export const RUNTIME_UID = 10001;

export function givenPki(opts: {serverSans?: string[]; owner?: number; keepCaKey?: boolean} = {}): Pki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'posture-pki-'));
  // (the sandbox tier stages it for uid 10001 when its parent is private)
  fs.chmodSync(dir, 0o755);
  const clientUri = 'spiffe://hardened-mtls.test/client/healthcheck';
  const sans = opts.serverSans ?? ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'];
  const ext = (name: string, body: string) => fs.writeFileSync(path.join(dir, name), body);
  ext('ca.ext', 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
  ext(
    'server.ext',
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans.join(',')}\nauthorityKeyIdentifier=keyid\n`,
  );
  ext(
    'client.ext',
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=URI:${clientUri}\nauthorityKeyIdentifier=keyid\n`,
  );

  const key = (name: string) => opensslOk(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name], {cwd: dir});
  key('ca.key');
  opensslOk(
    [
      'req',
      '-new',
      '-x509',
      '-key',
      'ca.key',
      '-subj',
      '/CN=posture test root CA',
      '-days',
      '2',
      '-sha256',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      'ca.crt',
    ],
    {cwd: dir},
  );
  for (const [name, cn] of [
    ['server', 'localhost'],
    ['client', 'healthcheck'],
  ] as const) {
    key(`${name}.key`);
    opensslOk(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`], {cwd: dir});
    opensslOk(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '1',
        '-sha256',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.crt`,
      ],
      {cwd: dir},
    );
  }
  // The root's CRL (`openssl ca -gencrl`, nothing revoked), made before the CA key is deleted.
  ext(
    'ca.cnf',
    '[ca]\ndefault_ca = ca_default\n[ca_default]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n',
  );
  ext('index.txt', '');
  ext('crlnumber', '01\n');
  opensslOk(['ca', '-gencrl', '-config', 'ca.cnf', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-out', 'ca.crl'], {cwd: dir});
  // kept only for a test that signs OCSP responses with it (container egress test)
  if (!opts.keepCaKey) fs.rmSync(path.join(dir, 'ca.key'));
  const owner = opts.owner ?? RUNTIME_UID;
  for (const f of ['server.key', 'client.key']) {
    const p = path.join(dir, f);
    if (process.getuid?.() === 0) fs.chownSync(p, owner, owner);
    fs.chmodSync(p, 0o400);
  }
  for (const f of ['ca.crt', 'ca.crl', 'server.crt', 'client.crt']) fs.chmodSync(path.join(dir, f), 0o444);
  return {
    dir,
    caCert: path.join(dir, 'ca.crt'),
    crl: path.join(dir, 'ca.crl'),
    serverCert: path.join(dir, 'server.crt'),
    serverKey: path.join(dir, 'server.key'),
    clientCert: path.join(dir, 'client.crt'),
    clientKey: path.join(dir, 'client.key'),
    clientUri,
    ...(opts.keepCaKey ? {caKey: path.join(dir, 'ca.key')} : {}),
    cleanup: () => fs.rmSync(dir, {recursive: true, force: true}),
  };
}
