/**
 * The revocation vocabulary, declared once: every source (CRL index, OCSP, CRL fetch) and every
 * consumer (connection gate, authenticator) answers and reads these three words.
 *   good     a current, verified source says the certificate is not revoked
 *   revoked  a verified source lists it
 *   unknown  no current, verified source can tell (MTLS_REVOCATION_FAIL decides)
 */
export type RevocationStatus = 'good' | 'revoked' | 'unknown';
