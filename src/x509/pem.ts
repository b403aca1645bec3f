/**
 * PEM (RFC 7468) for configuration, CLI and test input: the first block of any label, every
 * CERTIFICATE block, and DER to PEM. CRL files are decoded by the CRL parser's own chunked strict
 * decoder instead (crl-parser.ts: a 50 MB CRL must not be decoded in one synchronous call).
 *
 * Pure module: no LoopBack imports, no I/O.
 */

/** PEM (first block) to DER. */
export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!m) throw new Error('no PEM block found');
  return Buffer.from(m[2].replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
}

export function derToPem(der: Buffer, label: string): string {
  const b64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Every "CERTIFICATE" block of a PEM text as DER (CLI and configuration input). */
export function pemToDerList(pem: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(pem); m !== null; m = re.exec(pem)) out.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
  return out;
}
