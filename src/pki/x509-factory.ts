/**
 * Certificate factory for the dev/test PKI: root and intermediate CAs, leaf certificates with
 * any profile the tests need (good and deliberately bad), and v2 CRLs.
 *
 * @peculiar/x509 2.x on Node's WebCrypto. Every signature is SHA-256 based (ECDSA / RSA PKCS#1 v1.5)
 * or Ed25519; the hash is always passed explicitly. No openssl needed.
 */
import 'reflect-metadata';
import * as crypto from 'node:crypto';
import * as x509 from '@peculiar/x509';
import {buildSignedCrl, encodeRevokedEntry} from './crl-der';
import {derToPem} from '../x509/pem';
import {normalizeSerial} from '../x509/serial';

x509.cryptoProvider.set(crypto.webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export {x509};

export type KeyAlg = 'P-256' | 'P-384' | 'RSA-1024' | 'RSA-2048' | 'RSA-3072' | 'Ed25519';

/** Web Crypto key pair as used by @peculiar/x509. */
export type KeyPair = crypto.webcrypto.CryptoKeyPair;

export const OID = {
  clientAuth: '1.3.6.1.5.5.7.3.2',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
} as const;

/** keyUsage bits (same values as x509.KeyUsageFlags). */
export const KeyUsage = {
  digitalSignature: 1,
  nonRepudiation: 2,
  keyEncipherment: 4,
  dataEncipherment: 8,
  keyAgreement: 16,
  keyCertSign: 32,
  cRLSign: 64,
} as const;

/** Organisation attribute put in every generated subject. */
export const DEV_ORGANIZATION = 'Hardened mTLS Dev';

export interface CaHandle {
  name: string;
  certPem: string;
  keyPem: string;
  cert: x509.X509Certificate;
  keys: KeyPair;
  serialHex: string;
}

export interface CaOptions {
  name: string;
  cn: string;
  keyAlg?: KeyAlg;
  notBefore?: Date;
  notAfter?: Date;
  /** Default keyCertSign | cRLSign. Pass e.g. KeyUsage.keyCertSign to make a CA without cRLSign. */
  keyUsage?: number;
  serialHex?: string;
  /** Subject to use verbatim instead of O=DEV_ORGANIZATION, CN=cn (e.g. to clone another CA's name). */
  subject?: x509.Name;
  /** Intermediate only: basicConstraints pathLenConstraint (default 0). */
  pathLen?: number;
}

export interface SubjectAltNames {
  dns?: string[];
  uri?: string[];
  email?: string[];
  ip?: string[];
}

export interface CertProfile {
  name: string;
  cn: string;
  sans?: SubjectAltNames;
  notBefore?: Date;
  notAfter?: Date;
  /** null = no EKU extension at all; default [clientAuth]. */
  eku?: string[] | null;
  isCa?: boolean;
  /** null = no keyUsage extension; default digitalSignature. */
  keyUsage?: number | null;
  keyAlg?: KeyAlg;
  /** authorityInfoAccess id-ad-ocsp URL. */
  ocspUrl?: string;
  /** cRLDistributionPoints URL. */
  crlUrl?: string;
  serialHex?: string;
  extraExtensions?: x509.Extension[];
  /** id-pkix-ocsp-nocheck (for OCSP responder certificates). */
  ocspNoCheck?: boolean;
  /** Subject to use verbatim instead of O=DEV_ORGANIZATION, CN=cn. */
  subject?: x509.Name;
}

export interface IssuedCert {
  name: string;
  certPem: string;
  keyPem: string;
  certDer: Buffer;
  /** Upper-case hex, no leading zeros. */
  serialHex: string;
  /** Node's X509Certificate.fingerprint256 format (colon-separated upper-case hex). */
  fingerprint256: string;
  keys: KeyPair;
  cert: x509.X509Certificate;
  notBefore: Date;
  notAfter: Date;
}

export interface CrlEntry {
  serialHex: string;
  revokedAt?: Date;
  /** RFC 5280 CRLReason code (0 = unspecified is omitted from the entry, as RFC 5280 recommends). */
  reason?: number;
}

export interface CrlOptions {
  thisUpdate?: Date;
  nextUpdate?: Date;
  crlNumber?: bigint | number;
}

export interface CrlResult {
  der: Buffer;
  pem: string;
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

type SignAlg = {name: string; hash?: string};

function keyGenParams(alg: KeyAlg): {gen: Record<string, unknown>; sign: SignAlg} {
  switch (alg) {
    case 'P-256':
    case 'P-384':
      return {gen: {name: 'ECDSA', namedCurve: alg}, sign: {name: 'ECDSA', hash: 'SHA-256'}};
    case 'RSA-1024':
    case 'RSA-2048':
    case 'RSA-3072':
      return {
        gen: {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: Number(alg.slice(4)),
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
        sign: {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256'},
      };
    case 'Ed25519':
      return {gen: {name: 'Ed25519'}, sign: {name: 'Ed25519'}};
    default:
      throw new Error(`unsupported key algorithm ${String(alg)}`);
  }
}

/** Signing algorithm for a private key: always SHA-256 for ECDSA and RSA. */
function signingAlgorithmFor(key: crypto.webcrypto.CryptoKey): SignAlg {
  const name = key.algorithm.name;
  if (name === 'ECDSA') return {name, hash: 'SHA-256'};
  if (name === 'RSASSA-PKCS1-v1_5') {
    const hash = (key.algorithm as crypto.webcrypto.RsaHashedKeyAlgorithm).hash;
    const hashName = typeof hash === 'string' ? hash : hash?.name;
    // @peculiar/x509 spreads key.algorithm over signingAlgorithm, so the key itself must carry SHA-256.
    if (hashName !== 'SHA-256') throw new Error('RSA signing keys must be imported with hash SHA-256');
    return {name, hash: 'SHA-256'};
  }
  if (name === 'Ed25519') return {name};
  throw new Error(`unsupported signing key algorithm ${name}`);
}

export async function generateKeyPair(alg: KeyAlg = 'P-256'): Promise<KeyPair> {
  const {gen} = keyGenParams(alg);
  return (await crypto.webcrypto.subtle.generateKey(gen as unknown as crypto.webcrypto.EcKeyGenParams, true, ['sign', 'verify'])) as KeyPair;
}

export function privateKeyToPem(key: crypto.webcrypto.CryptoKey): string {
  return crypto.KeyObject.from(key).export({type: 'pkcs8', format: 'pem'}).toString();
}

/** Imports a PKCS#8 PEM private key (and the certificate's public key) as a Web Crypto key pair. */
export async function importKeyPair(keyPem: string, certPem: string): Promise<KeyPair> {
  const ko = crypto.createPrivateKey(keyPem);
  const pkcs8 = ko.export({type: 'pkcs8', format: 'der'});
  const spki = crypto.createPublicKey(certPem).export({type: 'spki', format: 'der'});
  let alg: Record<string, unknown>;
  switch (ko.asymmetricKeyType) {
    case 'ec': {
      const curve = ko.asymmetricKeyDetails?.namedCurve;
      const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
      if (!namedCurve) throw new Error(`unsupported EC curve ${String(curve)}`);
      alg = {name: 'ECDSA', namedCurve};
      break;
    }
    case 'rsa':
      alg = {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256'};
      break;
    case 'ed25519':
      alg = {name: 'Ed25519'};
      break;
    default:
      throw new Error(`unsupported key type ${String(ko.asymmetricKeyType)}`);
  }
  const subtle = crypto.webcrypto.subtle;
  const a = alg as unknown as crypto.webcrypto.EcKeyImportParams;
  const privateKey = await subtle.importKey('pkcs8', pkcs8, a, true, ['sign']);
  const publicKey = await subtle.importKey('spki', spki, a, true, ['verify']);
  return {privateKey, publicKey};
}

/** Random positive 16-byte serial whose first byte is 0x10..0x7f (no leading zero nibble, no sign byte). */
export function randomSerialHex(): string {
  const b = crypto.randomBytes(16);
  b[0] = 0x10 + (b[0] % 0x70);
  return b.toString('hex').toUpperCase();
}

function subjectName(cn: string, override?: x509.Name): x509.Name {
  if (override) return override;
  return new x509.Name([{O: [DEV_ORGANIZATION]}, {CN: [cn]}]);
}

function skiHex(cert: x509.X509Certificate): string {
  const ext = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ext) throw new Error(`certificate ${cert.subject} has no subjectKeyIdentifier`);
  return ext.keyId;
}

function toBuffer(ab: ArrayBuffer): Buffer {
  return Buffer.from(new Uint8Array(ab));
}

/** Node's fingerprint256 format. */
export function fingerprint256(der: Buffer): string {
  return crypto.createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

function sanExtension(sans: SubjectAltNames): x509.SubjectAlternativeNameExtension | undefined {
  const names: {type: 'dns' | 'url' | 'email' | 'ip'; value: string}[] = [];
  for (const v of sans.dns ?? []) names.push({type: 'dns', value: v});
  for (const v of sans.uri ?? []) names.push({type: 'url', value: v});
  for (const v of sans.email ?? []) names.push({type: 'email', value: v});
  for (const v of sans.ip ?? []) names.push({type: 'ip', value: v});
  return names.length ? new x509.SubjectAlternativeNameExtension(names, false) : undefined;
}

async function makeCaHandle(name: string, cert: x509.X509Certificate, keys: KeyPair): Promise<CaHandle> {
  return {
    name,
    cert,
    keys,
    certPem: cert.toString('pem') + '\n',
    keyPem: privateKeyToPem(keys.privateKey),
    serialHex: normalizeSerial(cert.serialNumber),
  };
}

/** Re-creates a CaHandle from PEM files (e.g. to re-sign a CRL with an existing CA). */
export async function loadCaHandle(name: string, certPem: string, keyPem: string): Promise<CaHandle> {
  const cert = new x509.X509Certificate(certPem);
  const keys = await importKeyPair(keyPem, certPem);
  return {name, cert, keys, certPem, keyPem, serialHex: normalizeSerial(cert.serialNumber)};
}

export async function createRootCa(opts: CaOptions): Promise<CaHandle> {
  const now = Date.now();
  const keys = await generateKeyPair(opts.keyAlg ?? 'P-256');
  const name = subjectName(opts.cn, opts.subject);
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: opts.serialHex ?? randomSerialHex(),
    subject: name,
    issuer: name,
    notBefore: opts.notBefore ?? new Date(now - HOUR),
    notAfter: opts.notAfter ?? new Date(now + 10 * 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: signingAlgorithmFor(keys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, opts.pathLen, true),
      new x509.KeyUsagesExtension(opts.keyUsage ?? KeyUsage.keyCertSign | KeyUsage.cRLSign, true),
      ski,
      new x509.AuthorityKeyIdentifierExtension(ski.keyId, false),
    ],
  });
  return makeCaHandle(opts.name, cert, keys);
}

export async function createIntermediateCa(issuer: CaHandle, opts: CaOptions): Promise<CaHandle> {
  const now = Date.now();
  const keys = await generateKeyPair(opts.keyAlg ?? 'P-256');
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: opts.serialHex ?? randomSerialHex(),
    subject: subjectName(opts.cn, opts.subject),
    issuer: issuer.cert.subjectName,
    notBefore: opts.notBefore ?? new Date(now - HOUR),
    notAfter: opts.notAfter ?? new Date(now + 5 * 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: signingAlgorithmFor(issuer.keys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, opts.pathLen ?? 0, true),
      new x509.KeyUsagesExtension(opts.keyUsage ?? KeyUsage.keyCertSign | KeyUsage.cRLSign, true),
      ski,
      new x509.AuthorityKeyIdentifierExtension(skiHex(issuer.cert), false),
    ],
  });
  return makeCaHandle(opts.name, cert, keys);
}

export async function issueCertificate(issuer: CaHandle, profile: CertProfile): Promise<IssuedCert> {
  const now = Date.now();
  const keys = await generateKeyPair(profile.keyAlg ?? 'P-256');
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false);
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(profile.isCa === true, undefined, true)];
  const ku = profile.keyUsage === undefined ? KeyUsage.digitalSignature : profile.keyUsage;
  if (ku !== null) extensions.push(new x509.KeyUsagesExtension(ku, true));
  const eku = profile.eku === undefined ? [OID.clientAuth] : profile.eku;
  if (eku !== null) extensions.push(new x509.ExtendedKeyUsageExtension(eku, false));
  const san = sanExtension(profile.sans ?? {});
  if (san) extensions.push(san);
  extensions.push(ski, new x509.AuthorityKeyIdentifierExtension(skiHex(issuer.cert), false));
  if (profile.ocspUrl) extensions.push(new x509.AuthorityInfoAccessExtension({ocsp: [profile.ocspUrl]}, false));
  if (profile.crlUrl) extensions.push(new x509.CRLDistributionPointsExtension([profile.crlUrl], false));
  if (profile.ocspNoCheck) {
    // id-pkix-ocsp-nocheck: extnValue is an encoded NULL.
    extensions.push(new x509.Extension(OID.ocspNoCheck, false, new Uint8Array([0x05, 0x00])));
  }
  extensions.push(...(profile.extraExtensions ?? []));

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: profile.serialHex ? normalizeSerial(profile.serialHex.replace(/[:\s]/g, '')) : randomSerialHex(),
    subject: subjectName(profile.cn, profile.subject),
    issuer: issuer.cert.subjectName,
    notBefore: profile.notBefore ?? new Date(now - HOUR),
    notAfter: profile.notAfter ?? new Date(now + 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: signingAlgorithmFor(issuer.keys.privateKey),
    extensions,
  });
  const certDer = toBuffer(cert.rawData);
  return {
    name: profile.name,
    cert,
    certDer,
    certPem: cert.toString('pem') + '\n',
    keyPem: privateKeyToPem(keys.privateKey),
    serialHex: normalizeSerial(cert.serialNumber),
    fingerprint256: fingerprint256(certDer),
    keys,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

/**
 * v2 CRL signed by `issuer` with cRLNumber and authorityKeyIdentifier (SHA-256 / Ed25519).
 * Defaults: thisUpdate now-1h, nextUpdate thisUpdate+30d, crlNumber 1.
 */
export async function createCrl(issuer: CaHandle, entries: CrlEntry[], opts: CrlOptions = {}): Promise<CrlResult> {
  const thisUpdate = opts.thisUpdate ?? new Date(Date.now() - HOUR);
  const nextUpdate = opts.nextUpdate ?? new Date(thisUpdate.getTime() + 30 * DAY);
  // Built with the direct DER writer: @peculiar/x509 2.x's X509CrlGenerator encodes an empty
  // crlEntryExtensions SEQUENCE for entries without extensions, which OpenSSL rejects.
  const der = buildSignedCrl({
    issuerCertDer: toBuffer(issuer.cert.rawData),
    privateKey: crypto.KeyObject.from(issuer.keys.privateKey),
    thisUpdate,
    nextUpdate,
    crlNumber: BigInt(opts.crlNumber ?? 1),
    revoked: Buffer.concat(entries.map(e => encodeRevokedEntry(e.serialHex, e.revokedAt ?? thisUpdate, e.reason))),
  });
  return {der, pem: derToPem(der, 'X509 CRL')};
}
