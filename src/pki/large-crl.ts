/**
 * Fast builder for very large CRLs (benchmarks and scale tests). Writes the DER directly into one
 * pre-sized buffer (no per-entry objects): 1,000,000 entries take well under a few seconds.
 * Serials are deterministic pseudo-random positive integers of `serialLength` octets (default 16;
 * AES-128-CTR keystream over the seed, so a longer list starts with the same serials), plus any
 * `includeSerials` appended at the end. Scale tests also use it (test/integration/revocation):
 * with `highBitSerials` about half the serials need a 00 sign octet in DER, and `reasonCode`
 * adds a non-critical reasonCode entry extension to every entry.
 */
import * as crypto from 'node:crypto';
import {buildSignedCrl, encodeRevokedEntry} from './crl-der';
import {derTime} from '../x509/der-writer';
import {pemToDer} from '../x509/pem';

export interface LargeCrlOptions {
  thisUpdate?: Date;
  /** Default thisUpdate + 30 days. */
  nextUpdate?: Date;
  /** Extra serials (hex) to list, e.g. a real certificate the test expects to be revoked. */
  includeSerials?: string[];
  /** Seed for the generated serials (same seed + count => same serials). Default 'large-crl'. */
  seed?: string | number;
  /** Default 1. */
  crlNumber?: bigint | number;
  /** Octets per generated serial (default 16, at most 20). */
  serialLength?: number;
  /** Any first octet 01..FF (half need a DER sign octet) instead of 10..7F. */
  highBitSerials?: boolean;
  /** A reasonCode (keyCompromise) entry extension on every generated entry. */
  reasonCode?: boolean;
}

const SERIAL_LEN = 16;

/**
 * The `count` generated serials as raw big-endian magnitudes (count * serialLength bytes).
 * By default the first byte of each is 0x10..0x7f: positive, no leading zero nibble, exactly
 * `serialLength` content octets; with `highBitSerials` it is 0x01..0xff.
 */
export function largeCrlSerialBytes(
  count: number,
  seed: string | number = 'large-crl',
  o: {serialLength?: number; highBitSerials?: boolean} = {},
): Buffer {
  const len = o.serialLength ?? SERIAL_LEN;
  if (!Number.isSafeInteger(count) || count < 0) throw new Error(`invalid count ${count}`);
  if (!Number.isSafeInteger(len) || len < 1 || len > 20) throw new Error(`invalid serial length ${len}`);
  const material = crypto
    .createHash('sha256')
    .update(`large-crl-seed:${String(seed)}`)
    .digest();
  const cipher = crypto.createCipheriv('aes-128-ctr', material.subarray(0, 16), material.subarray(16, 32));
  const out = cipher.update(Buffer.alloc(count * len));
  for (let i = 0; i < out.length; i += len) out[i] = o.highBitSerials ? out[i] || 1 : 0x10 + (out[i] % 0x70);
  return out;
}

/** Upper-case hex of the i-th generated serial (matches the entry in the CRL). */
export function largeCrlSerialHex(serialBytes: Buffer, index: number, serialLength = SERIAL_LEN): string {
  return serialBytes
    .subarray(index * serialLength, (index + 1) * serialLength)
    .toString('hex')
    .toUpperCase();
}

/** reasonCode keyCompromise as one crlEntryExtensions SEQUENCE. */
const REASON_KEY_COMPROMISE = Buffer.from('300c300a0603551d1504030a0101', 'hex');

export function buildLargeCrlDer(issuer: {certPem: string; keyPem: string}, count: number, opts: LargeCrlOptions = {}): Buffer {
  const thisUpdate = opts.thisUpdate ?? new Date(Date.now() - 3600_000);
  const nextUpdate = opts.nextUpdate ?? new Date(thisUpdate.getTime() + 30 * 24 * 3600_000);
  const len = opts.serialLength ?? SERIAL_LEN;
  const serials = largeCrlSerialBytes(count, opts.seed, opts);
  const time = derTime(thisUpdate); // revocationDate of every generated entry
  const ext = opts.reasonCode ? REASON_KEY_COMPROMISE : Buffer.alloc(0);
  // RevokedCertificate ::= SEQUENCE { INTEGER (len octets, [00] sign octet), Time, [extensions] }
  const maxContent = 2 + 1 + len + time.length + ext.length;
  if (maxContent > 0x7f) throw new Error('unexpected entry size');
  const extra = (opts.includeSerials ?? []).map(s => encodeRevokedEntry(s, thisUpdate));
  const extraLen = extra.reduce((n, b) => n + b.length, 0);
  const revoked = Buffer.allocUnsafe(count * (2 + maxContent) + extraLen);
  let p = 0;
  for (let i = 0; i < count; i++) {
    const sign = serials[i * len] & 0x80 ? 1 : 0;
    revoked[p++] = 0x30;
    revoked[p++] = maxContent - 1 + sign;
    revoked[p++] = 0x02;
    revoked[p++] = len + sign;
    if (sign) revoked[p++] = 0x00;
    serials.copy(revoked, p, i * len, (i + 1) * len);
    p += len;
    time.copy(revoked, p);
    p += time.length;
    ext.copy(revoked, p);
    p += ext.length;
  }
  for (const e of extra) {
    e.copy(revoked, p);
    p += e.length;
  }
  return buildSignedCrl({
    issuerCertDer: pemToDer(issuer.certPem),
    privateKey: crypto.createPrivateKey(issuer.keyPem),
    thisUpdate,
    nextUpdate,
    crlNumber: BigInt(opts.crlNumber ?? 1),
    revoked: revoked.subarray(0, p),
  });
}
