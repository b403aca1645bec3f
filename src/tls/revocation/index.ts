/** Public surface of the CRL revocation index (pure; no LoopBack imports). */
export {SerialSet} from './serial-set';
export {parseCrl, ParsedCrl, ParseCrlOptions} from './crl-parser';
export {verifyCrlSignature, SUPPORTED_CRL_SIGNATURE_ALGORITHMS} from './crl-signature';
export {RevocationIndex, CrlRecord, CertificateRevocationStatus, readCrlFile} from './revocation-index';
export {RevocationStore, ReloadResult} from './revocation-store';
