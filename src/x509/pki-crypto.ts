/**
 * The one place where signatures are verified for the authenticator (certificate chain and OCSP).
 *
 * pkijs is given a CryptoEngine built on Node's WebCrypto (never a global engine, so other
 * modules' pkijs use is unaffected) whose `verifyWithPublicKey` is replaced by Node's
 * `crypto.verify`: that adds Ed25519/Ed448 (pkijs 3 does not verify them) and refuses weak
 * algorithms (MD5, SHA-1, DSA, PSS with SHA-1) in one place.
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import crypto from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

export class WeakSignatureAlgorithmError extends Error {
  constructor(readonly oid: string) {
    super(`signature algorithm ${oid} is not accepted`);
    this.name = 'WeakSignatureAlgorithmError';
  }
}

const HASH_BY_OID: Readonly<Record<string, string>> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

type SigSpec = {kind: 'rsa'; hash: string} | {kind: 'rsa-pss'} | {kind: 'ecdsa'; hash: string} | {kind: 'eddsa'};

/** Signature algorithms accepted anywhere in the authenticator. Everything else is refused. */
export const ACCEPTED_SIGNATURE_ALGORITHMS: Readonly<Record<string, SigSpec>> = {
  '1.2.840.113549.1.1.11': {kind: 'rsa', hash: 'sha256'},
  '1.2.840.113549.1.1.12': {kind: 'rsa', hash: 'sha384'},
  '1.2.840.113549.1.1.13': {kind: 'rsa', hash: 'sha512'},
  '1.2.840.113549.1.1.10': {kind: 'rsa-pss'},
  '1.2.840.10045.4.3.2': {kind: 'ecdsa', hash: 'sha256'},
  '1.2.840.10045.4.3.3': {kind: 'ecdsa', hash: 'sha384'},
  '1.2.840.10045.4.3.4': {kind: 'ecdsa', hash: 'sha512'},
  '1.3.101.112': {kind: 'eddsa'},
  '1.3.101.113': {kind: 'eddsa'},
};

export function isAcceptedSignatureAlgorithm(oid: string): boolean {
  return Object.prototype.hasOwnProperty.call(ACCEPTED_SIGNATURE_ALGORITHMS, oid);
}

function pssOptions(alg: pkijs.AlgorithmIdentifier): {hash: string; saltLength: number} {
  if (!alg.algorithmParams) throw new WeakSignatureAlgorithmError('1.2.840.113549.1.1.10 (default SHA-1 parameters)');
  const params = new pkijs.RSASSAPSSParams({schema: alg.algorithmParams});
  const hash = HASH_BY_OID[params.hashAlgorithm.algorithmId];
  if (!hash) throw new WeakSignatureAlgorithmError(`1.2.840.113549.1.1.10 with hash ${params.hashAlgorithm.algorithmId}`);
  if (params.maskGenAlgorithm.algorithmId !== '1.2.840.113549.1.1.8')
    throw new WeakSignatureAlgorithmError('1.2.840.113549.1.1.10 with a non-MGF1 mask');
  const mgfHash = new pkijs.AlgorithmIdentifier({schema: params.maskGenAlgorithm.algorithmParams});
  if (HASH_BY_OID[mgfHash.algorithmId] !== hash) throw new WeakSignatureAlgorithmError('1.2.840.113549.1.1.10 with a mismatched MGF1 hash');
  if (params.trailerField !== 1) throw new WeakSignatureAlgorithmError('1.2.840.113549.1.1.10 with an unknown trailer');
  return {hash, saltLength: params.saltLength};
}

/**
 * Verify `signature` over `data` with the SubjectPublicKeyInfo `spkiDer`.
 * Returns false when the signature does not verify; throws WeakSignatureAlgorithmError for a
 * refused algorithm and other errors for unusable keys.
 */
export function verifySignature(data: Uint8Array, signature: Uint8Array, spkiDer: Uint8Array, algorithm: pkijs.AlgorithmIdentifier): boolean {
  const spec = ACCEPTED_SIGNATURE_ALGORITHMS[algorithm.algorithmId];
  if (!spec || !Object.prototype.hasOwnProperty.call(ACCEPTED_SIGNATURE_ALGORITHMS, algorithm.algorithmId)) {
    throw new WeakSignatureAlgorithmError(algorithm.algorithmId);
  }
  const key = crypto.createPublicKey({key: Buffer.from(spkiDer), format: 'der', type: 'spki'});
  const type = key.asymmetricKeyType;
  switch (spec.kind) {
    case 'rsa':
      if (type !== 'rsa') return false;
      return crypto.verify(spec.hash, data, {key, padding: crypto.constants.RSA_PKCS1_PADDING}, signature);
    case 'rsa-pss': {
      if (type !== 'rsa' && type !== 'rsa-pss') return false;
      const {hash, saltLength} = pssOptions(algorithm);
      return crypto.verify(hash, data, {key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength}, signature);
    }
    case 'ecdsa':
      if (type !== 'ec') return false;
      return crypto.verify(spec.hash, data, {key, dsaEncoding: 'der'}, signature);
    case 'eddsa':
      if (algorithm.algorithmId === '1.3.101.112' && type !== 'ed25519') return false;
      if (algorithm.algorithmId === '1.3.101.113' && type !== 'ed448') return false;
      return crypto.verify(null, data, key, signature);
  }
}

function bitStringBytes(sig: asn1js.BitString | asn1js.OctetString): Uint8Array {
  return new Uint8Array(sig.valueBlock.valueHexView);
}

type EngineParams = ConstructorParameters<typeof pkijs.CryptoEngine>[0];

/** pkijs engine on Node's WebCrypto, with signature verification delegated to `verifySignature`. */
class NodeVerifyingCryptoEngine extends pkijs.CryptoEngine {
  override async verifyWithPublicKey(
    data: ArrayBufferView | ArrayBuffer,
    signature: asn1js.BitString | asn1js.OctetString,
    publicKeyInfo: pkijs.PublicKeyInfo,
    signatureAlgorithm: pkijs.AlgorithmIdentifier,
  ): Promise<boolean> {
    const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data as ArrayBuffer);
    const spki = new Uint8Array(publicKeyInfo.toSchema().toBER(false));
    return verifySignature(bytes, bitStringBytes(signature), spki, signatureAlgorithm);
  }
}

/** The pkijs engine every pkijs call in src/auth passes explicitly. */
export const pkiCrypto: pkijs.ICryptoEngine = new NodeVerifyingCryptoEngine({
  name: 'node-webcrypto',
  crypto: crypto.webcrypto,
} as unknown as EngineParams);
