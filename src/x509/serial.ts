/**
 * Serial keys shared by the connection gate, the CRL index and the authenticator
 * (docs/architecture.md "Serial and issuer keys").
 *
 * A serial key is the upper-case hex of the serial's magnitude with no leading zeros ("0" for
 * zero). Non-conforming negative serials (RFC 5280 requires positive ones, but OpenSSL accepts
 * and Node reports them as "-05") keep a "-" prefix: "-5". Both inputs normalise identically:
 *   DER INTEGER content 00 9F 01  -> "9F01"
 *   Node serialNumber   "009F01"  -> "9F01"
 *   DER INTEGER content FB        -> "-5"    (two's complement)
 *   Node serialNumber   "-05"     -> "-5"
 *
 * Pure module: no LoopBack imports.
 */
import {AppError, ErrorCode} from '../errors';

const HEX_RE = /^(-?)([0-9A-Fa-f]+)$/;

/**
 * Normalise a certificate serial number.
 * @param hexOrBytes Node's `X509Certificate.serialNumber` (hex, optional leading "-") or the
 *   content octets of a DER INTEGER (two's complement, sign byte allowed).
 * @param errorCode code of the AppError thrown for unusable input (empty, non-hex).
 */
export function normalizeSerial(hexOrBytes: string | Uint8Array, errorCode: ErrorCode = 'AUTH_CERT_MALFORMED'): string {
  if (typeof hexOrBytes === 'string') {
    const m = HEX_RE.exec(hexOrBytes);
    if (!m) throw new AppError(errorCode, 'serial number is not hexadecimal');
    const mag = stripZeros(m[2].toUpperCase());
    return m[1] === '-' && mag !== '0' ? '-' + mag : mag;
  }
  if (!(hexOrBytes instanceof Uint8Array)) throw new AppError(errorCode, 'serial number has an unsupported type');
  return serialKeyOfDerInteger(hexOrBytes, 0, hexOrBytes.length, errorCode);
}

/** Serial key of the DER INTEGER content at buf[start, end). */
export function serialKeyOfDerInteger(buf: Uint8Array, start: number, end: number, errorCode: ErrorCode = 'CRL_INVALID'): string {
  if (end <= start) throw new AppError(errorCode, 'serial number is empty');
  if ((buf[start] & 0x80) === 0) {
    return stripZeros(
      Buffer.from(buf.buffer, buf.byteOffset + start, end - start)
        .toString('hex')
        .toUpperCase(),
    );
  }
  // Negative: magnitude = two's complement negation (invert, add one).
  const mag = Buffer.alloc(end - start);
  let carry = 1;
  for (let i = end - start - 1; i >= 0; i--) {
    const v = (~buf[start + i] & 0xff) + carry;
    mag[i] = v & 0xff;
    carry = v >> 8;
  }
  return '-' + stripZeros(mag.toString('hex').toUpperCase());
}

function stripZeros(hex: string): string {
  let i = 0;
  while (i < hex.length - 1 && hex.charCodeAt(i) === 0x30) i++;
  return hex.slice(i);
}
