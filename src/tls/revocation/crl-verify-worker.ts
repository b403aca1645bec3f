/**
 * Worker-thread body for verifying the signature of a large TBSCertList (see crl-signature.ts).
 * Receives the TBS as a view on a SharedArrayBuffer (no copy), the issuer key as SPKI DER and
 * the signature; posts back exactly one boolean. Any error => false (the caller fails closed).
 */
import * as crypto from 'node:crypto';
import {parentPort, workerData} from 'node:worker_threads';

export interface VerifyWorkerInput {
  sab: SharedArrayBuffer;
  offset: number;
  length: number;
  hash: string | null;
  spki: Uint8Array;
  keyType: 'rsa' | 'ec' | 'ed25519';
  signature: Uint8Array;
}

function run(input: VerifyWorkerInput): boolean {
  try {
    const key = crypto.createPublicKey({key: Buffer.from(input.spki), format: 'der', type: 'spki'});
    if (key.asymmetricKeyType !== input.keyType) return false;
    const keyInput: crypto.KeyObject | crypto.VerifyKeyObjectInput =
      input.keyType === 'rsa' ? {key, padding: crypto.constants.RSA_PKCS1_PADDING} : input.keyType === 'ec' ? {key, dsaEncoding: 'der'} : key;
    const data = Buffer.from(input.sab, input.offset, input.length);
    return crypto.verify(input.hash, data, keyInput, Buffer.from(input.signature)) === true;
  } catch {
    return false;
  }
}

if (parentPort) parentPort.postMessage(run(workerData as VerifyWorkerInput));
