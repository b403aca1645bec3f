/**
 * Scenario certificates for the mTLS cases: one client certificate (and key) per way a client
 * certificate can be wrong, plus `valid`, the positive control.
 *
 * A scenario directory holds `<scenario>.crt` + `<scenario>.key` (and optionally
 * `<scenario>.chain.crt`, the certificate followed by its issuer). The dev PKI's `clients/`
 * directory (`npm run pki`) already has this layout for valid, expired, not-yet-valid, revoked,
 * wrong-san, no-eku, server-eku-only, ca-true, rsa-1024 and untrusted; `generateScenarioCerts()`
 * (or `npm run escape -- make-scenario-certs`) writes the remaining ones from a CA the target
 * trusts. A case whose scenario file is missing is reported "not applicable".
 */
import 'reflect-metadata';
import * as crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type {DevPkiManifest} from '../pki/dev-pki';
import {
  CaHandle,
  createCrl,
  createRootCa,
  generateKeyPair,
  issueCertificate,
  KeyUsage,
  OID,
  privateKeyToPem,
  randomSerialHex,
  x509,
} from '../pki/x509-factory';

export interface ScenarioDoc {
  name: string;
  description: string;
  /** Present in the dev PKI's clients/ directory. */
  devPki: boolean;
}

export const SCENARIOS: readonly ScenarioDoc[] = [
  {name: 'valid', devPki: true, description: 'CA-issued, allowed identity, EKU clientAuth, CA:FALSE (positive control)'},
  {name: 'expired', devPki: true, description: 'notAfter in the past'},
  {name: 'not-yet-valid', devPki: true, description: 'notBefore in the future'},
  {name: 'revoked', devPki: true, description: "serial listed in the issuing CA's CRL"},
  {name: 'wrong-san', devPki: true, description: 'valid chain, identity not on the allow-list'},
  {name: 'no-eku', devPki: true, description: 'no extendedKeyUsage extension'},
  {name: 'server-eku-only', devPki: true, description: 'EKU serverAuth only'},
  {name: 'ca-true', devPki: true, description: 'basicConstraints CA:TRUE leaf'},
  {name: 'rsa-1024', devPki: true, description: 'RSA-1024 key'},
  {name: 'untrusted', devPki: true, description: 'issued by a CA with the same subject name as a trusted one, not trusted (chain sent)'},
  {name: 'cn-san-mismatch', devPki: false, description: 'CN is the allowed name, SAN DNS is attacker.test'},
  {name: 'san-prefix', devPki: false, description: 'SAN DNS is the allowed name followed by .attacker.test'},
  {name: 'self-signed', devPki: false, description: 'self-signed leaf with the allowed name'},
  {name: 'codesign-eku', devPki: false, description: 'EKU codeSigning only'},
  {name: 'keycertsign-only', devPki: false, description: 'keyUsage keyCertSign only (no digitalSignature)'},
  {name: 'root-ca', devPki: false, description: 'the trusted root CA certificate and key used as a client certificate'},
  {name: 'sha1-signed', devPki: false, description: 'signed with a SHA-1 signature algorithm'},
  {name: 'unknown-critical-ext', devPki: false, description: 'an unknown critical extension (1.2.3.4.5)'},
  {name: 'no-identity', devPki: false, description: 'CN=nobody and no SAN'},
  {name: 'uri-dot-segments', devPki: false, description: 'SAN URI <trust domain>/client/../admin'},
  // authz category: admitted identities that must not reach what their role does not allow.
  {name: 'valid2', devPki: true, description: 'a second admitted identity of the trusted CA, without the operator role (authz)'},
  {
    name: 'second-ca-operator',
    devPki: false,
    description: "the operator's SAN (URI and DNS) on a certificate from a second CA the target also trusts (authz: issuer-bound role)",
  },
];

export interface ScenarioCredential {
  cert: Buffer;
  key: Buffer;
  /** Certificate followed by its issuer, when available. */
  chain?: Buffer;
}

/** Reads every `<name>.crt` + `<name>.key` pair of a directory. */
export function loadScenarioCerts(dir: string): Map<string, ScenarioCredential> {
  const out = new Map<string, ScenarioCredential>();
  for (const f of fs.readdirSync(dir)) {
    const m = /^([a-z0-9-]+)\.crt$/.exec(f);
    if (!m || f.endsWith('.chain.crt')) continue;
    const keyFile = path.join(dir, `${m[1]}.key`);
    if (!fs.existsSync(keyFile)) continue;
    const chainFile = path.join(dir, `${m[1]}.chain.crt`);
    out.set(m[1], {
      cert: fs.readFileSync(path.join(dir, f)),
      key: fs.readFileSync(keyFile),
      chain: fs.existsSync(chainFile) ? fs.readFileSync(chainFile) : undefined,
    });
  }
  return out;
}

export interface GenerateScenarioOptions {
  dir: string;
  /** The CA the target trusts for client certificates (issues every scenario). */
  issuer: CaHandle;
  /** The trusted root (for `root-ca`); omitted = that scenario is not written. */
  root?: CaHandle;
  /** DNS name on the target's allow-list (default client.allowed.test). */
  allowedDns?: string;
  /** SPIFFE-style trust domain whose /client/* URIs are allowed (default hardened-mtls.test). */
  trustDomain?: string;
}

function write(dir: string, name: string, certPem: string, keyPem: string, issuerPem?: string): void {
  fs.writeFileSync(path.join(dir, `${name}.crt`), certPem, {mode: 0o644});
  fs.writeFileSync(path.join(dir, `${name}.key`), keyPem, {mode: 0o600});
  if (issuerPem) fs.writeFileSync(path.join(dir, `${name}.chain.crt`), certPem + issuerPem, {mode: 0o644});
}

function subject(cn: string): x509.Name {
  return new x509.Name([{O: ['Escape Suite Scenario']}, {CN: [cn]}]);
}

async function skiOf(cert: x509.X509Certificate): Promise<string> {
  const ext = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ext) throw new Error('issuer has no subjectKeyIdentifier');
  return ext.keyId;
}

/** A leaf signed with SHA-1 (ecdsa-with-SHA1 or sha1WithRSAEncryption, after the issuer key). */
async function issueSha1(issuer: CaHandle, cn: string, dns: string): Promise<{certPem: string; keyPem: string}> {
  const keys = await generateKeyPair('P-256');
  const issuerKey = crypto.KeyObject.from(issuer.keys.privateKey);
  const pkcs8 = issuerKey.export({type: 'pkcs8', format: 'der'});
  let signingKey: crypto.webcrypto.CryptoKey;
  let signingAlgorithm: Record<string, unknown>;
  if (issuerKey.asymmetricKeyType === 'rsa') {
    signingAlgorithm = {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1'};
    signingKey = await crypto.webcrypto.subtle.importKey(
      'pkcs8',
      pkcs8,
      signingAlgorithm as unknown as crypto.webcrypto.RsaHashedImportParams,
      false,
      ['sign'],
    );
  } else if (issuerKey.asymmetricKeyType === 'ec') {
    signingAlgorithm = {name: 'ECDSA', hash: 'SHA-1'};
    signingKey = issuer.keys.privateKey;
  } else {
    throw new Error(`sha1-signed: unsupported issuer key type ${String(issuerKey.asymmetricKeyType)}`);
  }
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: subject(cn),
    issuer: issuer.cert.subjectName,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 365 * 24 * 3600_000),
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: signingAlgorithm as unknown as x509.X509CertificateCreateParams['signingAlgorithm'],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(KeyUsage.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([OID.clientAuth], false),
      new x509.SubjectAlternativeNameExtension([{type: 'dns', value: dns}], false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false),
      new x509.AuthorityKeyIdentifierExtension(await skiOf(issuer.cert), false),
    ],
  });
  return {certPem: cert.toString('pem') + '\n', keyPem: privateKeyToPem(keys.privateKey)};
}

async function selfSigned(cn: string, dns: string): Promise<{certPem: string; keyPem: string}> {
  const keys = await generateKeyPair('P-256');
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: subject(cn),
    keys,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 365 * 24 * 3600_000),
    signingAlgorithm: {name: 'ECDSA', hash: 'SHA-256'} as unknown as x509.X509CertificateCreateSelfSignedParams['signingAlgorithm'],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(KeyUsage.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([OID.clientAuth], false),
      new x509.SubjectAlternativeNameExtension([{type: 'dns', value: dns}], false),
    ],
  });
  return {certPem: cert.toString('pem') + '\n', keyPem: privateKeyToPem(keys.privateKey)};
}

/**
 * Writes the scenarios that the dev PKI does not have (cn-san-mismatch ... uri-dot-segments),
 * issued by `issuer`; returns the names written.
 */
export async function generateScenarioCerts(o: GenerateScenarioOptions): Promise<string[]> {
  const allowed = o.allowedDns ?? 'client.allowed.test';
  const td = o.trustDomain ?? 'hardened-mtls.test';
  fs.mkdirSync(o.dir, {recursive: true, mode: 0o700});
  const written: string[] = [];
  const issue = async (name: string, profile: Omit<Parameters<typeof issueCertificate>[1], 'name'>) => {
    const c = await issueCertificate(o.issuer, {name, ...profile});
    write(o.dir, name, c.certPem, c.keyPem, o.issuer.certPem);
    written.push(name);
  };
  await issue('cn-san-mismatch', {cn: allowed, sans: {dns: ['attacker.test']}});
  await issue('san-prefix', {cn: `${allowed}.attacker.test`, sans: {dns: [`${allowed}.attacker.test`]}});
  await issue('codesign-eku', {cn: allowed, sans: {dns: [allowed], uri: [`spiffe://${td}/client/codesign-eku`]}, eku: ['1.3.6.1.5.5.7.3.3']});
  await issue('keycertsign-only', {
    cn: allowed,
    sans: {dns: [allowed], uri: [`spiffe://${td}/client/keycertsign-only`]},
    keyUsage: KeyUsage.keyCertSign,
  });
  await issue('unknown-critical-ext', {
    cn: allowed,
    sans: {dns: [allowed], uri: [`spiffe://${td}/client/unknown-critical-ext`]},
    extraExtensions: [new x509.Extension('1.2.3.4.5', true, new Uint8Array([0x05, 0x00]))],
  });
  await issue('no-identity', {cn: 'nobody'});
  await issue('uri-dot-segments', {cn: 'uri-dot-segments', sans: {uri: [`spiffe://${td}/client/../admin`]}});
  const ss = await selfSigned(allowed, allowed);
  write(o.dir, 'self-signed', ss.certPem, ss.keyPem);
  written.push('self-signed');
  const sha1 = await issueSha1(o.issuer, allowed, allowed);
  write(o.dir, 'sha1-signed', sha1.certPem, sha1.keyPem, o.issuer.certPem);
  written.push('sha1-signed');
  if (o.root) {
    write(o.dir, 'root-ca', o.root.certPem, o.root.keyPem);
    written.push('root-ca');
  }
  return written;
}

export interface AuthzScenarioOptions {
  dir: string;
  /** The operator identity's SAN URI (default spiffe://hardened-mtls.test/client/valid). */
  operatorUri?: string;
  /** The operator identity's SAN DNS name (default valid.client.hardened-mtls.test). */
  operatorDns?: string;
}

export interface AuthzScenarioFiles {
  /** The second CA's certificate: add it to the target's client trust bundle (TLS_CA_FILE). */
  secondCaCert: string;
  /** Its (empty) CRL: add it to TLS_CRL_FILES, or the target cannot tell the revocation status. */
  secondCaCrl: string;
  written: string[];
}

/**
 * The authz category's extra identity: a second CA (self-signed root, its empty CRL) and
 * `second-ca-operator`, a client certificate from it carrying the operator's SAN strings. A
 * target that binds the operator role to its own CA (policy `issuers` / `trustDomains`) refuses
 * it with AUTHZ_ISSUER_MISMATCH once the second CA is in its bundle; without the second CA in the
 * bundle it is refused at authentication (also a pass).
 */
export async function generateAuthzScenarioCerts(o: AuthzScenarioOptions): Promise<AuthzScenarioFiles> {
  const uri = o.operatorUri ?? 'spiffe://hardened-mtls.test/client/valid';
  const dns = o.operatorDns ?? 'valid.client.hardened-mtls.test';
  fs.mkdirSync(o.dir, {recursive: true, mode: 0o700});
  const ca = await createRootCa({name: 'second-ca', cn: 'Escape Suite Second CA'});
  const crl = await createCrl(ca, []);
  const secondCaCert = path.join(o.dir, 'second-ca.pem');
  const secondCaCrl = path.join(o.dir, 'second-ca.crl');
  fs.writeFileSync(secondCaCert, ca.certPem, {mode: 0o644});
  fs.writeFileSync(secondCaCrl, crl.pem, {mode: 0o644});
  const leaf = await issueCertificate(ca, {name: 'second-ca-operator', cn: 'valid', sans: {uri: [uri], dns: [dns]}});
  write(o.dir, 'second-ca-operator', leaf.certPem, leaf.keyPem, ca.certPem);
  return {secondCaCert, secondCaCrl, written: ['second-ca-operator']};
}

/** Copies the dev PKI's client scenarios (clients/<name>.*) into a scenario directory. */
export function copyDevPkiScenarios(pki: DevPkiManifest, dir: string): string[] {
  fs.mkdirSync(dir, {recursive: true, mode: 0o700});
  const names = SCENARIOS.filter(s => s.devPki).map(s => s.name) as Array<keyof DevPkiManifest['clients']>;
  for (const n of names) {
    const c = pki.clients[n];
    fs.copyFileSync(c.cert, path.join(dir, `${n}.crt`));
    fs.copyFileSync(c.key, path.join(dir, `${n}.key`));
    fs.chmodSync(path.join(dir, `${n}.key`), 0o600);
    fs.copyFileSync(c.chain, path.join(dir, `${n}.chain.crt`));
  }
  return names;
}
