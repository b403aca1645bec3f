/**
 * CRL signature and issuer checks with node:crypto. Pure: no LoopBack imports.
 *
 * - Supported algorithms: sha256/384/512WithRSAEncryption (PKCS#1 v1.5), ecdsa-with-SHA256/384/512,
 *   Ed25519. RSASSA-PSS and anything else are rejected as unsupported (CRL_INVALID).
 * - The CRL issuer Name must match the CA certificate's subject Name (RFC 5280 §7.1,
 *   src/x509/name.ts). Node's X509Certificate exposes no raw subject, so TBSCertificate.subject
 *   is taken from `cert.raw` (src/x509/certificate-fields.ts).
 * - When the CA has a keyUsage extension it must assert cRLSign (CRL_ISSUER_NOT_CRLSIGN).
 * - Keeping the event loop free: the callback form of crypto.verify runs the hash on the libuv
 *   thread pool, but Node first COPIES the input on the main thread (measured: ~140 ms for a
 *   40 MB TBSCertList on a VM with slow page faults). So a TBS below 1 MiB uses the callback
 *   form, and a larger one is verified synchronously in a short-lived worker thread that reads
 *   the TBS from a SharedArrayBuffer: zero-copy when the CRL was read by readCrlFile()/decoded
 *   from PEM (both produce SharedArrayBuffer-backed buffers), otherwise copied in 1 MiB slices
 *   with a yield between slices.
 */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import {setImmediate as yieldToLoop} from 'node:timers/promises';
import {Worker} from 'node:worker_threads';
import {AppError} from '../../errors';
import type {ParsedCrl} from './crl-parser';
import {certificateFields} from '../../x509/certificate-fields';
import {namesMatch} from '../../x509/name';
import type {VerifyWorkerInput} from './crl-verify-worker';

/** TBS size from which verification moves to a worker thread. */
export const WORKER_VERIFY_THRESHOLD_BYTES = 1 << 20;
/** Upper bound for one worker verification (a 256 MiB TBS hashes in well under a second). */
const WORKER_VERIFY_TIMEOUT_MS = 60_000;
const COPY_SLICE_BYTES = 1 << 20;

interface SignatureAlgorithm {
  name: string;
  /** Digest for crypto.verify; null for Ed25519 (pure EdDSA). */
  hash: string | null;
  keyType: 'rsa' | 'ec' | 'ed25519';
  /** RSA allows absent or NULL parameters (RFC 4055 §5); ECDSA/Ed25519 require them absent. */
  nullParamsAllowed: boolean;
}

export const SUPPORTED_CRL_SIGNATURE_ALGORITHMS: Readonly<Record<string, SignatureAlgorithm>> = Object.freeze({
  '1.2.840.113549.1.1.11': {name: 'sha256WithRSAEncryption', hash: 'sha256', keyType: 'rsa', nullParamsAllowed: true},
  '1.2.840.113549.1.1.12': {name: 'sha384WithRSAEncryption', hash: 'sha384', keyType: 'rsa', nullParamsAllowed: true},
  '1.2.840.113549.1.1.13': {name: 'sha512WithRSAEncryption', hash: 'sha512', keyType: 'rsa', nullParamsAllowed: true},
  '1.2.840.10045.4.3.2': {name: 'ecdsa-with-SHA256', hash: 'sha256', keyType: 'ec', nullParamsAllowed: false},
  '1.2.840.10045.4.3.3': {name: 'ecdsa-with-SHA384', hash: 'sha384', keyType: 'ec', nullParamsAllowed: false},
  '1.2.840.10045.4.3.4': {name: 'ecdsa-with-SHA512', hash: 'sha512', keyType: 'ec', nullParamsAllowed: false},
  '1.3.101.112': {name: 'Ed25519', hash: null, keyType: 'ed25519', nullParamsAllowed: false},
});

const NULL_PARAMS = Buffer.from([0x05, 0x00]);

/**
 * The supported algorithm for a CRL, or throws AppError CRL_INVALID (unsupported algorithm or
 * parameters that do not fit it).
 */
export function crlSignatureAlgorithm(crl: ParsedCrl): SignatureAlgorithm {
  const alg = Object.prototype.hasOwnProperty.call(SUPPORTED_CRL_SIGNATURE_ALGORITHMS, crl.signatureAlgorithmOid)
    ? SUPPORTED_CRL_SIGNATURE_ALGORITHMS[crl.signatureAlgorithmOid]
    : undefined;
  if (!alg) {
    throw new AppError('CRL_INVALID', 'unsupported CRL signature algorithm', {signatureAlgorithm: crl.signatureAlgorithmOid});
  }
  const params = crl.signatureAlgorithmParams;
  if (params && !(alg.nullParamsAllowed && params.equals(NULL_PARAMS))) {
    throw new AppError('CRL_INVALID', 'unexpected signature algorithm parameters', {signatureAlgorithm: alg.name});
  }
  return alg;
}

function verifyAsync(hash: string | null, data: Buffer, key: crypto.KeyObject | crypto.VerifyKeyObjectInput, signature: Buffer): Promise<boolean> {
  return new Promise(resolve => {
    try {
      crypto.verify(hash, data, key, signature, (err, ok) => resolve(!err && ok === true));
    } catch {
      resolve(false);
    }
  });
}

/** A SharedArrayBuffer view of `data`: the same memory when it already is one, else a sliced copy. */
async function toShared(data: Buffer): Promise<{sab: SharedArrayBuffer; offset: number; length: number}> {
  if (data.buffer instanceof SharedArrayBuffer) return {sab: data.buffer, offset: data.byteOffset, length: data.length};
  const sab = new SharedArrayBuffer(data.length);
  const view = new Uint8Array(sab);
  for (let o = 0; o < data.length; o += COPY_SLICE_BYTES) {
    view.set(data.subarray(o, Math.min(data.length, o + COPY_SLICE_BYTES)), o);
    await yieldToLoop();
  }
  return {sab, offset: 0, length: data.length};
}

async function verifyInWorker(alg: SignatureAlgorithm, key: crypto.KeyObject, data: Buffer, signature: Buffer): Promise<boolean> {
  const shared = await toShared(data);
  const input: VerifyWorkerInput = {
    ...shared,
    hash: alg.hash,
    spki: new Uint8Array(key.export({type: 'spki', format: 'der'})),
    keyType: alg.keyType,
    signature: new Uint8Array(signature),
  };
  return new Promise(resolve => {
    let settled = false;
    let worker: Worker;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate().catch(() => undefined);
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), WORKER_VERIFY_TIMEOUT_MS);
    try {
      worker = new Worker(path.join(__dirname, 'crl-verify-worker.js'), {workerData: input});
    } catch {
      settled = true;
      clearTimeout(timer);
      resolve(false);
      return;
    }
    worker.once('message', (ok: unknown) => finish(ok === true));
    worker.once('error', () => finish(false));
    worker.once('exit', () => finish(false));
  });
}

/**
 * true when `issuer` signed `crl`: issuer Name matches the CA subject (RFC 5280 §7.1), the CA key type fits the
 * algorithm and the signature verifies. false when it did not.
 * Rejects with AppError CRL_INVALID (unsupported algorithm/parameters) or
 * CRL_ISSUER_NOT_CRLSIGN (the signature verifies but the CA's keyUsage lacks cRLSign).
 */
export async function verifyCrlSignature(crl: ParsedCrl, issuer: crypto.X509Certificate): Promise<boolean> {
  const alg = crlSignatureAlgorithm(crl);
  const fields = certificateFields(issuer);
  // RFC 5280 §7.1: the same name in another string type, case or spacing is the same issuer.
  if (!namesMatch(crl.issuerNameDer, fields.subjectDer, 'CRL_INVALID')) return false;
  const key = issuer.publicKey;
  if (key.asymmetricKeyType !== alg.keyType) return false;
  const keyInput: crypto.KeyObject | crypto.VerifyKeyObjectInput =
    alg.keyType === 'rsa' ? {key, padding: crypto.constants.RSA_PKCS1_PADDING} : alg.keyType === 'ec' ? {key, dsaEncoding: 'der'} : key;
  const ok =
    crl.tbsDer.length < WORKER_VERIFY_THRESHOLD_BYTES
      ? await verifyAsync(alg.hash, crl.tbsDer, keyInput, crl.signature)
      : await verifyInWorker(alg, key, crl.tbsDer, crl.signature);
  if (!ok) return false;
  if (fields.keyUsage && !fields.keyUsage.cRLSign) {
    throw new AppError('CRL_ISSUER_NOT_CRLSIGN', "the CRL issuer's keyUsage does not allow cRLSign", {
      issuerFingerprint256: issuer.fingerprint256,
    });
  }
  return true;
}
