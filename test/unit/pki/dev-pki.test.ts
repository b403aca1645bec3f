/**
 * The generated dev PKI, checked with the openssl CLI (an independent implementation).
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type {AddressInfo} from 'node:net';
import {parseCertificateFields} from '../../../src/x509/certificate-fields';
import {pemToDer} from '../../../src/x509/pem';
import {
  DEV_CLIENT_NAMES,
  DEV_INTERMEDIATE_CN,
  DevClientName,
  DevPkiManifest,
  givenTempDir,
  givenTestPki,
  readDevPkiManifest,
} from '../../fixtures/pki';
import {openssl, opensslOk} from '../../fixtures/openssl';
import {certText, extensionBlock, signatureAlgorithms} from './openssl-helper';

const CLIENT_AUTH = 'TLS Web Client Authentication';
const SERVER_AUTH = 'TLS Web Server Authentication';

/** Expected profile of every dev client (null EKU = no extension at all). */
const CLIENT_TABLE: Record<
  DevClientName,
  {
    eku: string | null;
    ca: boolean;
    uri: string;
    dns: string;
    bits: string;
    chainOk: boolean;
    issuer: 'intermediate' | 'untrusted';
  }
> = {
  valid: {
    eku: CLIENT_AUTH,
    ca: false,
    uri: 'spiffe://hardened-mtls.test/client/valid',
    dns: 'valid.client.hardened-mtls.test',
    bits: '256',
    chainOk: true,
    issuer: 'intermediate',
  },
  valid2: {
    eku: CLIENT_AUTH,
    ca: false,
    uri: 'spiffe://hardened-mtls.test/client/valid2',
    dns: 'valid2.client.hardened-mtls.test',
    bits: '256',
    chainOk: true,
    issuer: 'intermediate',
  },
  health: {
    eku: CLIENT_AUTH,
    ca: false,
    uri: 'spiffe://hardened-mtls.test/client/health',
    dns: 'health.client.hardened-mtls.test',
    bits: '256',
    chainOk: true,
    issuer: 'intermediate',
  },
  expired: {
    eku: CLIENT_AUTH,
    ca: false,
    uri: 'spiffe://hardened-mtls.test/client/expired',
    dns: 'expired.client.hardened-mtls.test',
    bits: '256',
    chainOk: false,
    issuer: 'intermediate',
  },
  'not-yet-valid': {
    eku: CLIENT_AUTH,
    ca: false,
    uri: 'spiffe://hardened-mtls.test/client/not-yet-valid',
    dns: 'not-yet-valid.client.hardened-mtls.test',
    bits: '256',
    chainOk: false,
    issuer: 'intermediate',
  },
  revoked: {
    eku: CLIENT_AUTH,
    ca: false,
    uri: 'spiffe://hardened-mtls.test/client/revoked',
    dns: 'revoked.client.hardened-mtls.test',
    bits: '256',
    chainOk: true,
    issuer: 'intermediate',
  },
  'wrong-san': {
    eku: CLIENT_AUTH,
    ca: false,
    uri: 'spiffe://evil.test/client/wrong-san',
    dns: 'wrong-san.evil.test',
    bits: '256',
    chainOk: true,
    issuer: 'intermediate',
  },
  'no-eku': {
    eku: null,
    ca: false,
    uri: 'spiffe://hardened-mtls.test/client/no-eku',
    dns: 'no-eku.client.hardened-mtls.test',
    bits: '256',
    chainOk: true,
    issuer: 'intermediate',
  },
  'server-eku-only': {
    eku: SERVER_AUTH,
    ca: false,
    uri: 'spiffe://hardened-mtls.test/client/server-eku-only',
    dns: 'server-eku-only.client.hardened-mtls.test',
    bits: '256',
    chainOk: true,
    issuer: 'intermediate',
  },
  'ca-true': {
    eku: CLIENT_AUTH,
    ca: true,
    uri: 'spiffe://hardened-mtls.test/client/ca-true',
    dns: 'ca-true.client.hardened-mtls.test',
    bits: '256',
    chainOk: true,
    issuer: 'intermediate',
  },
  'rsa-1024': {
    eku: CLIENT_AUTH,
    ca: false,
    uri: 'spiffe://hardened-mtls.test/client/rsa-1024',
    dns: 'rsa-1024.client.hardened-mtls.test',
    bits: '1024',
    chainOk: true,
    issuer: 'intermediate',
  },
  'rsa-2048': {
    eku: CLIENT_AUTH,
    ca: false,
    uri: 'spiffe://hardened-mtls.test/client/rsa-2048',
    dns: 'rsa-2048.client.hardened-mtls.test',
    bits: '2048',
    chainOk: true,
    issuer: 'intermediate',
  },
  untrusted: {
    eku: CLIENT_AUTH,
    ca: false,
    uri: 'spiffe://hardened-mtls.test/client/untrusted',
    dns: 'untrusted.client.hardened-mtls.test',
    bits: '256',
    chainOk: false,
    issuer: 'untrusted',
  },
};

function pemBlocks(file: string): string[] {
  return fs.readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
}

function fp(pem: string): string {
  return new crypto.X509Certificate(pem).fingerprint256;
}

function verify(m: DevPkiManifest, file: string, extra: string[] = []): ReturnType<typeof openssl> {
  return openssl(['verify', '-CAfile', m.rootCa.cert, '-untrusted', m.intermediateCa.cert, ...extra, file]);
}

describe('pki: dev PKI, openssl cross-check (unit)', function () {
  let m: DevPkiManifest;
  before(async () => {
    m = await givenTestPki();
  });

  describe('chains', () => {
    it('the server chain verifies for purpose sslserver', () => {
      const r = verify(m, m.server.cert, ['-purpose', 'sslserver']);
      assert.equal(r.status, 0, r.output);
      assert.match(r.stdout, /: OK/);
    });

    for (const name of DEV_CLIENT_NAMES) {
      const row = CLIENT_TABLE[name];
      it(`client ${name} ${row.chainOk ? 'verifies' : 'fails verification'} against root + intermediate`, () => {
        const r = verify(m, m.clients[name].cert);
        assert.equal(r.status === 0, row.chainOk, r.output);
      });
    }

    it('expired fails with X509_V_ERR_CERT_HAS_EXPIRED (10)', () => {
      assert.match(verify(m, m.clients.expired.cert).output, /error 10 at 0 depth/);
    });

    it('not-yet-valid fails with X509_V_ERR_CERT_NOT_YET_VALID (9)', () => {
      assert.match(verify(m, m.clients['not-yet-valid'].cert).output, /error 9 at 0 depth/);
    });

    it('untrusted fails against the bundle but verifies against untrusted-ca (so only trust is missing)', () => {
      const bundle = openssl(['verify', '-CAfile', m.caBundle, m.clients.untrusted.cert]);
      assert.notEqual(bundle.status, 0, bundle.output);
      const own = openssl(['verify', '-CAfile', m.untrustedCa.cert, m.clients.untrusted.cert]);
      assert.equal(own.status, 0, own.output);
    });

    it('purpose sslclient: valid passes, server-eku-only fails', () => {
      assert.equal(verify(m, m.clients.valid.cert, ['-purpose', 'sslclient']).status, 0);
      const r = verify(m, m.clients['server-eku-only'].cert, ['-purpose', 'sslclient']);
      assert.notEqual(r.status, 0, r.output);
      assert.match(r.output, /error 26 at 0 depth/); // X509_V_ERR_INVALID_PURPOSE
    });

    it('with both CRLs: valid passes and revoked fails with X509_V_ERR_CERT_REVOKED (23)', () => {
      const crlArgs = ['-crl_check_all', '-CRLfile', m.crls.root, '-CRLfile', m.crls.intermediate];
      const ok = verify(m, m.clients.valid.cert, crlArgs);
      assert.equal(ok.status, 0, ok.output);
      const r = verify(m, m.clients.revoked.cert, crlArgs);
      assert.notEqual(r.status, 0, r.output);
      assert.match(r.output, /error 23 at 0 depth/);
    });

    it('every chain file is the leaf followed by its issuing CA', () => {
      for (const name of DEV_CLIENT_NAMES) {
        const blocks = pemBlocks(m.clients[name].chain);
        assert.equal(blocks.length, 2, name);
        assert.equal(fp(blocks[0]), m.clients[name].fingerprint256, name);
        const issuer = CLIENT_TABLE[name].issuer === 'untrusted' ? m.untrustedCa : m.intermediateCa;
        assert.equal(fp(blocks[1]), issuer.fingerprint256, name);
      }
      const server = pemBlocks(m.server.cert);
      assert.deepEqual(server.map(fp), [m.server.fingerprint256, m.intermediateCa.fingerprint256]);
    });

    it('ca-bundle.crt holds exactly root + intermediate (not the untrusted CA)', () => {
      assert.deepEqual(pemBlocks(m.caBundle).map(fp), [m.rootCa.fingerprint256, m.intermediateCa.fingerprint256]);
      assert.notEqual(m.untrustedCa.fingerprint256, m.intermediateCa.fingerprint256);
    });

    it('every private key matches its certificate', () => {
      const refs = [m.rootCa, m.intermediateCa, m.server, m.ocspResponder, m.untrustedCa, ...DEV_CLIENT_NAMES.map(n => m.clients[n])];
      for (const ref of refs) {
        const fromCert = opensslOk(['x509', '-in', ref.cert, '-noout', '-pubkey']);
        const fromKey = opensslOk(['pkey', '-in', ref.key, '-pubout']);
        assert.equal(fromKey, fromCert, ref.cert);
      }
    });
  });

  describe('certificate contents (openssl x509 -text)', () => {
    it('every certificate is signed with SHA-256 (ECDSA or RSA)', () => {
      const files = [
        m.rootCa.cert,
        m.intermediateCa.cert,
        m.server.cert,
        m.ocspResponder.cert,
        m.untrustedCa.cert,
        ...DEV_CLIENT_NAMES.map(n => m.clients[n].cert),
      ];
      for (const f of files) {
        const algs = signatureAlgorithms(certText(f));
        assert.ok(algs.length >= 1, f);
        for (const a of algs) assert.ok(a === 'ecdsa-with-SHA256' || a === 'sha256WithRSAEncryption', `${f}: ${a}`);
      }
    });

    it('root CA: self-signed, CA:TRUE, keyCertSign + cRLSign', () => {
      const t = certText(m.rootCa.cert);
      assert.match(t, /Issuer: O = Hardened mTLS Dev, CN = Hardened mTLS Dev Root CA/);
      assert.match(t, /Subject: O = Hardened mTLS Dev, CN = Hardened mTLS Dev Root CA/);
      assert.equal(extensionBlock(t, 'X509v3 Basic Constraints'), 'X509v3 Basic Constraints: critical\nCA:TRUE');
      assert.equal(extensionBlock(t, 'X509v3 Key Usage'), 'X509v3 Key Usage: critical\nCertificate Sign, CRL Sign');
    });

    it('intermediate CA: CA:TRUE pathlen:0, keyCertSign + cRLSign, the documented CN', () => {
      const t = certText(m.intermediateCa.cert);
      assert.match(t, new RegExp(`Subject: O = Hardened mTLS Dev, CN = ${DEV_INTERMEDIATE_CN}\\n`));
      assert.match(t, /Issuer: O = Hardened mTLS Dev, CN = Hardened mTLS Dev Root CA/);
      assert.equal(extensionBlock(t, 'X509v3 Basic Constraints'), 'X509v3 Basic Constraints: critical\nCA:TRUE, pathlen:0');
      assert.equal(extensionBlock(t, 'X509v3 Key Usage'), 'X509v3 Key Usage: critical\nCertificate Sign, CRL Sign');
    });

    it('server: P-256, CN localhost, SAN DNS localhost + 127.0.0.1 + ::1, EKU serverAuth only, CA:FALSE', () => {
      const t = certText(m.server.cert);
      assert.match(t, /Subject: O = Hardened mTLS Dev, CN = localhost\n/);
      assert.match(t, /NIST CURVE: P-256/);
      assert.equal(
        extensionBlock(t, 'X509v3 Subject Alternative Name'),
        'X509v3 Subject Alternative Name:\nDNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
      );
      assert.equal(extensionBlock(t, 'X509v3 Extended Key Usage'), `X509v3 Extended Key Usage:\n${SERVER_AUTH}`);
      assert.equal(extensionBlock(t, 'X509v3 Basic Constraints'), 'X509v3 Basic Constraints: critical\nCA:FALSE');
      assert.match(opensslOk(['pkey', '-in', m.server.key, '-noout', '-text']), /NIST CURVE: P-256/);
    });

    it('OCSP responder: issued by the intermediate, EKU OCSPSigning, id-pkix-ocsp-nocheck', () => {
      const t = certText(m.ocspResponder.cert);
      assert.match(t, new RegExp(`Issuer: O = Hardened mTLS Dev, CN = ${DEV_INTERMEDIATE_CN}\\n`));
      assert.equal(extensionBlock(t, 'X509v3 Extended Key Usage'), 'X509v3 Extended Key Usage:\nOCSP Signing');
      assert.match(t, /OCSP No Check/);
      const r = verify(m, m.ocspResponder.cert, ['-purpose', 'ocsphelper']);
      assert.equal(r.status, 0, r.output);
    });

    it('untrusted CA: self-signed with a subject byte-identical to the intermediate, different key', () => {
      const u = fs.readFileSync(m.untrustedCa.cert, 'utf8');
      const i = fs.readFileSync(m.intermediateCa.cert, 'utf8');
      const subjectDer = (pem: string) => parseCertificateFields(pemToDer(pem), 'TLS_MATERIAL_UNREADABLE').subjectDer;
      assert.ok(subjectDer(u).equals(subjectDer(i)));
      const subj = (f: string): string => opensslOk(['x509', '-in', f, '-noout', '-subject', '-nameopt', 'RFC2253']);
      assert.equal(subj(m.untrustedCa.cert), subj(m.intermediateCa.cert));
      const self = openssl(['verify', '-CAfile', m.untrustedCa.cert, m.untrustedCa.cert]);
      assert.equal(self.status, 0, self.output);
      assert.notEqual(
        opensslOk(['x509', '-in', m.untrustedCa.cert, '-noout', '-pubkey']),
        opensslOk(['x509', '-in', m.intermediateCa.cert, '-noout', '-pubkey']),
      );
    });

    for (const name of DEV_CLIENT_NAMES) {
      const row = CLIENT_TABLE[name];
      it(`client ${name}: EKU ${row.eku ?? 'absent'}, CA:${row.ca ? 'TRUE' : 'FALSE'}, SANs, ${row.bits}-bit key`, () => {
        const t = certText(m.clients[name].cert);
        assert.match(t, new RegExp(`Subject: O = Hardened mTLS Dev, CN = ${name}\\n`));
        const eku = extensionBlock(t, 'X509v3 Extended Key Usage');
        assert.equal(eku, row.eku === null ? undefined : `X509v3 Extended Key Usage:\n${row.eku}`);
        assert.equal(extensionBlock(t, 'X509v3 Basic Constraints'), `X509v3 Basic Constraints: critical\nCA:${row.ca ? 'TRUE' : 'FALSE'}`);
        assert.equal(extensionBlock(t, 'X509v3 Key Usage'), 'X509v3 Key Usage: critical\nDigital Signature');
        assert.equal(extensionBlock(t, 'X509v3 Subject Alternative Name'), `X509v3 Subject Alternative Name:\nDNS:${row.dns}, URI:${row.uri}`);
        assert.match(t, new RegExp(`Public-Key: \\(${row.bits} bit\\)`));
        assert.equal(m.clients[name].uri, row.uri);
        assert.equal(m.clients[name].dns, row.dns);
      });
    }

    it('expired / not-yet-valid carry the documented validity', () => {
      const dates = (f: string): string => opensslOk(['x509', '-in', f, '-noout', '-startdate', '-enddate']);
      assert.match(dates(m.clients.expired.cert), /notAfter=Feb {2}1 00:00:00 2020 GMT/);
      assert.match(dates(m.clients['not-yet-valid'].cert), /notBefore=Jan {2}1 00:00:00 2099 GMT/);
    });
  });

  describe('CRLs', () => {
    const crlField = (f: string, flag: string): Date => new Date(opensslOk(['crl', '-in', f, '-noout', flag]).split('=')[1].trim());

    it('both CRLs verify against their issuer with openssl crl -verify', () => {
      for (const [crl, ca] of [
        [m.crls.root, m.rootCa.cert],
        [m.crls.intermediate, m.intermediateCa.cert],
      ]) {
        const r = openssl(['crl', '-in', crl, '-noout', '-verify', '-CAfile', ca]);
        assert.equal(r.status, 0, r.output);
        assert.match(r.stderr, /verify OK/);
      }
    });

    it('the intermediate CRL lists exactly the revoked client (keyCompromise); the root CRL lists nothing', () => {
      const t = opensslOk(['crl', '-in', m.crls.intermediate, '-noout', '-text']);
      const serials = [...t.matchAll(/Serial Number: ([0-9A-F]+)/g)].map(x => x[1]);
      assert.deepEqual(serials, [m.clients.revoked.serialHex]);
      assert.match(t, /Key Compromise/);
      assert.match(t, /Version 2 \(0x1\)/);
      assert.match(t, /X509v3 CRL Number:\s+1\n/);
      assert.match(t, /X509v3 Authority Key Identifier/);
      assert.deepEqual(signatureAlgorithms(t), ['ecdsa-with-SHA256', 'ecdsa-with-SHA256']);
      const root = opensslOk(['crl', '-in', m.crls.root, '-noout', '-text']);
      assert.match(root, /No Revoked Certificates/);
    });

    it('thisUpdate = generation time - 1h and nextUpdate = generation time + 30d', () => {
      const gen = Math.floor(Date.parse(m.generatedAt) / 1000) * 1000;
      for (const crl of [m.crls.root, m.crls.intermediate]) {
        assert.equal(crlField(crl, '-lastupdate').getTime(), gen - 3600_000);
        assert.equal(crlField(crl, '-nextupdate').getTime(), gen + 30 * 86400_000);
      }
    });
  });

  describe('openssl index and OCSP', () => {
    it('openssl-index.txt has a V/R line per intermediate-issued certificate, in openssl ca format', () => {
      const lines = fs
        .readFileSync(m.opensslIndex, 'utf8')
        .trimEnd()
        .split('\n')
        .map(l => l.split('\t'));
      const bySerial = new Map(lines.map(l => [l[3], l]));
      for (const name of DEV_CLIENT_NAMES) {
        const line = bySerial.get(m.clients[name].serialHex);
        if (name === 'untrusted') {
          assert.equal(line, undefined);
          continue;
        }
        assert.ok(line, name);
        assert.equal(line.length, 6, name);
        assert.equal(line[0], name === 'revoked' ? 'R' : 'V', name);
        assert.match(line[1], /^(\d{12}|\d{14})Z$/);
        if (name === 'revoked') assert.match(line[2], /^\d{12}Z,keyCompromise$/);
        else assert.equal(line[2], '');
        assert.equal(line[4], 'unknown');
        assert.equal(line[5], `/O=Hardened mTLS Dev/CN=${name}`);
      }
      assert.ok(bySerial.get(m.server.serialHex));
      assert.equal(fs.readFileSync(`${m.opensslIndex}.attr`, 'utf8'), 'unique_subject = no\n');
    });

    it('openssl ocsp answers from the index with the responder: revoked -> revoked, valid -> good', () => {
      const work = givenTempDir('hmtls-ocsp-');
      const req = path.join(work, 'req.der');
      const resp = path.join(work, 'resp.der');
      const certs = ['-cert', m.clients.revoked.cert, '-cert', m.clients.valid.cert];
      opensslOk(['ocsp', '-issuer', m.intermediateCa.cert, ...certs, '-reqout', req]);
      opensslOk([
        'ocsp',
        '-index',
        m.opensslIndex,
        '-CA',
        m.intermediateCa.cert,
        '-rsigner',
        m.ocspResponder.cert,
        '-rkey',
        m.ocspResponder.key,
        '-reqin',
        req,
        '-respout',
        resp,
      ]);
      const r = openssl(['ocsp', '-respin', resp, '-issuer', m.intermediateCa.cert, ...certs, '-CAfile', m.caBundle, '-no_nonce']);
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, /Response verify OK/);
      assert.match(r.stdout, /revoked\.crt: revoked/);
      assert.match(r.stdout, /valid\.crt: good/);
    });
  });

  describe('real TLS 1.3 handshake on loopback (server material + ca-bundle + CRLs)', () => {
    let server: tls.Server;
    let port: number;
    const seen: {authorized: boolean; error: string | undefined}[] = [];

    before(async () => {
      const read = (f: string): Buffer => fs.readFileSync(f);
      server = tls.createServer(
        {
          cert: read(m.server.cert),
          key: read(m.server.key),
          ca: read(m.caBundle),
          crl: [read(m.crls.root), read(m.crls.intermediate)],
          requestCert: true,
          rejectUnauthorized: false,
          minVersion: 'TLSv1.3',
        },
        socket => {
          const err = socket.authorizationError;
          seen.push({authorized: socket.authorized, error: err === undefined || err === null ? undefined : String(err)});
          socket.end('bye');
        },
      );
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()));
      port = (server.address() as AddressInfo).port;
    });

    after(async () => {
      await new Promise<void>(resolve => server.close(() => resolve()));
    });

    const connect = (name: DevClientName): Promise<{authorized: boolean; error: string | undefined}> =>
      new Promise((resolve, reject) => {
        const c = m.clients[name];
        const before = seen.length;
        const sock = tls.connect({
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          ca: fs.readFileSync(m.caBundle),
          cert: fs.readFileSync(c.chain),
          key: fs.readFileSync(c.key),
          minVersion: 'TLSv1.3',
        });
        sock.on('error', reject);
        sock.on('data', () => undefined);
        sock.on('end', () => {
          sock.destroy();
          if (seen.length === before) reject(new Error('server saw no connection'));
          else resolve(seen[before]);
        });
      });

    it('the client verifies the server as localhost via ca-bundle.crt; valid client is authorized', async () => {
      const r = await connect('valid');
      assert.deepEqual(r, {authorized: true, error: undefined});
    });

    // OpenSSL keeps verifying after the first error here (rejectUnauthorized: false), so the
    // untrusted chain may report a later error (e.g. UNABLE_TO_GET_CRL); what matters is "not authorized".
    for (const [name, code] of [
      ['revoked', 'CERT_REVOKED'],
      ['untrusted', undefined],
      ['expired', 'CERT_HAS_EXPIRED'],
    ] as const) {
      it(`client ${name} is not authorized${code ? ` (${code})` : ''}`, async () => {
        const r = await connect(name);
        assert.equal(r.authorized, false);
        if (code) assert.equal(r.error, code);
        else assert.match(r.error ?? '', /^[A-Z_]+$/);
      });
    }
  });

  describe('files and manifest', () => {
    it('the directory is 0700 and every key is 0600', () => {
      assert.equal(fs.statSync(m.dir).mode & 0o777, 0o700);
      assert.equal(fs.statSync(path.join(m.dir, 'clients')).mode & 0o777, 0o700);
      const keys = [m.rootCa, m.intermediateCa, m.server, m.ocspResponder, m.untrustedCa, ...DEV_CLIENT_NAMES.map(n => m.clients[n])].map(r => r.key);
      const onDisk = [...fs.readdirSync(m.dir), ...fs.readdirSync(path.join(m.dir, 'clients')).map(f => `clients/${f}`)]
        .filter(f => f.endsWith('.key'))
        .map(f => path.join(m.dir, f));
      assert.deepEqual([...onDisk].sort(), [...keys].sort());
      for (const k of keys) assert.equal(fs.statSync(k).mode & 0o777, 0o600, k);
    });

    it('no temp files are left behind', () => {
      const all = [...fs.readdirSync(m.dir), ...fs.readdirSync(path.join(m.dir, 'clients'))];
      assert.deepEqual(
        all.filter(f => f.endsWith('.tmp')),
        [],
      );
    });

    it('manifest.json stores relative paths; readDevPkiManifest resolves them to the same absolute manifest', () => {
      const raw = fs.readFileSync(path.join(m.dir, 'manifest.json'), 'utf8');
      assert.ok(!raw.includes(m.dir), 'manifest.json must not contain absolute paths');
      assert.deepEqual(readDevPkiManifest(m.dir), m);
    });

    it('serials and fingerprints in the manifest match openssl and Node', () => {
      for (const name of DEV_CLIENT_NAMES) {
        const c = m.clients[name];
        const serial = opensslOk(['x509', '-in', c.cert, '-noout', '-serial'])
          .trim()
          .replace(/^serial=/, '');
        assert.equal(serial, c.serialHex, name);
        const x = new crypto.X509Certificate(fs.readFileSync(c.cert));
        assert.equal(x.fingerprint256, c.fingerprint256, name);
        assert.equal(x.serialNumber.toUpperCase(), c.serialHex, name);
        assert.equal(new Date(x.validTo).toISOString(), c.notAfter, name);
      }
    });

    it('rejects a manifest that points outside the directory', () => {
      const dir = givenTempDir('hmtls-bad-manifest-');
      const raw = JSON.parse(fs.readFileSync(path.join(m.dir, 'manifest.json'), 'utf8'));
      raw.server.key = '../../etc/shadow';
      fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(raw));
      assert.throws(() => readDevPkiManifest(dir), /relative path inside/);
    });
  });
});
