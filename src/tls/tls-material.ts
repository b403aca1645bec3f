/**
 * Loading and validating TLS material from files. Used at start-up (failures are coded
 * start-up errors) and on every hot reload (failures keep the previous material).
 */
import {readFile} from 'node:fs/promises';
import {createPrivateKey, KeyObject, X509Certificate} from 'node:crypto';
import {createSecureContext} from 'node:tls';
import {AppError} from '../errors';
import type {TlsConfig} from '../config/config';
import {buildSecureContextOptions, TlsMaterialBytes} from './tls-options';

export interface TlsMaterial extends TlsMaterialBytes {
  readonly serverCert: X509Certificate;
  /** Every certificate of the CA bundle (trust anchors and intermediates for client chains). */
  readonly caCerts: readonly X509Certificate[];
  readonly loadedAt: Date;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitPemCertificates(pem: string): string[] {
  return pem.match(PEM_CERT) ?? [];
}

async function read(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new AppError('TLS_MATERIAL_UNREADABLE', `${what} cannot be read`, {file, reason: (e as NodeJS.ErrnoException).code});
  }
}

function parseCerts(pem: Buffer, file: string, what: string): X509Certificate[] {
  const blocks = splitPemCertificates(pem.toString('latin1'));
  if (blocks.length === 0) throw new AppError('TLS_MATERIAL_UNREADABLE', `${what} holds no PEM certificate`, {file});
  return blocks.map(b => {
    try {
      return new X509Certificate(b);
    } catch {
      throw new AppError('TLS_MATERIAL_UNREADABLE', `${what} holds an unparseable certificate`, {file});
    }
  });
}

/** Minimum strength for the server key (and, by the authenticator, for client keys). */
export function keyStrengthProblem(key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss') {
    return (d.modulusLength ?? 0) >= 2048 ? undefined : `RSA-${d.modulusLength} is below RSA-2048`;
  }
  if (type === 'ec') {
    return ['prime256v1', 'secp384r1', 'secp521r1'].includes(d.namedCurve ?? '') ? undefined : `curve ${d.namedCurve} is not allowed`;
  }
  if (type === 'ed25519' || type === 'ed448') return undefined;
  return `key type ${type} is not allowed`;
}

export function checkValidity(cert: X509Certificate, now: Date): 'ok' | 'expired' | 'not-yet-valid' {
  if (now.getTime() < new Date(cert.validFrom).getTime()) return 'not-yet-valid';
  if (now.getTime() > new Date(cert.validTo).getTime()) return 'expired';
  return 'ok';
}

export async function loadTlsMaterial(cfg: TlsConfig, now: Date = new Date()): Promise<TlsMaterial> {
  const [certPem, keyPem, caPem] = await Promise.all([
    read(cfg.certFile, 'TLS_CERT_FILE'),
    read(cfg.keyFile, 'TLS_KEY_FILE'),
    read(cfg.caFile, 'TLS_CA_FILE'),
  ]);
  const serverCert = parseCerts(certPem, cfg.certFile, 'TLS_CERT_FILE')[0];
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new AppError('TLS_MATERIAL_UNREADABLE', 'TLS_KEY_FILE holds no usable private key', {file: cfg.keyFile});
  }
  const validity = checkValidity(serverCert, now);
  if (validity !== 'ok') {
    throw new AppError('TLS_CERT_EXPIRED', `the server certificate is ${validity}`, {
      file: cfg.certFile,
      validFrom: serverCert.validFrom,
      validTo: serverCert.validTo,
    });
  }
  if (!serverCert.checkPrivateKey(key)) {
    throw new AppError('TLS_KEY_MISMATCH', 'TLS_KEY_FILE does not match TLS_CERT_FILE', {certFile: cfg.certFile, keyFile: cfg.keyFile});
  }
  const weak = keyStrengthProblem(serverCert.publicKey);
  if (weak) throw new AppError('TLS_KEY_WEAK', `the server key is too weak: ${weak}`, {file: cfg.certFile});

  const caCerts = parseCerts(caPem, cfg.caFile, 'TLS_CA_FILE');
  for (const ca of caCerts) {
    if (!ca.ca)
      throw new AppError('TLS_MATERIAL_UNREADABLE', 'TLS_CA_FILE holds a certificate that is not a CA', {file: cfg.caFile, subject: ca.subject});
  }
  const material: TlsMaterial = {certPem, keyPem, caPem, serverCert, caCerts, loadedAt: now};
  // Let OpenSSL confirm the whole set is acceptable before anyone relies on it.
  try {
    createSecureContext(buildSecureContextOptions(cfg, material));
  } catch (e) {
    throw new AppError('TLS_MATERIAL_UNREADABLE', 'OpenSSL refused the TLS material', {reason: (e as Error).message});
  }
  return material;
}
