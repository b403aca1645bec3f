/**
 * Fast builder for very large CRLs (benchmarks and scale tests). Writes the DER directly into one
 * pre-sized buffer (no per-entry objects): 1,000,000 entries take well under a few seconds.
 * Serials are deterministic pseudo-random 16-byte positive integers (AES-128-CTR keystream over
 * the seed), plus any `includeSerials` appended at the end.
 */
import * as crypto from 'node:crypto';
import {buildSignedCrl, encodeRevokedEntry} from './crl-der';
import {derTime, pemToDer} from './der';

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
}

const SERIAL_LEN = 16;

/**
 * The `count` generated serials as raw 16-byte big-endian magnitudes (count * 16 bytes).
 * First byte of each is 0x10..0x7f: positive, no leading zero nibble, exactly 16 content octets.
 */
export function largeCrlSerialBytes(count: number, seed: string | number = 'large-crl'): Buffer {
  if (!Number.isSafeInteger(count) || count < 0) throw new Error(`invalid count ${count}`);
  const material = crypto.createHash('sha256').update(`large-crl-seed:${String(seed)}`).digest();
  const cipher = crypto.createCipheriv('aes-128-ctr', material.subarray(0, 16), material.subarray(16, 32));
  const out = cipher.update(Buffer.alloc(count * SERIAL_LEN));
  for (let i = 0; i < out.length; i += SERIAL_LEN) out[i] = 0x10 + (out[i] % 0x70);
  return out;
}

/** Upper-case hex of the i-th generated serial (matches the entry in the CRL). */
export function largeCrlSerialHex(serialBytes: Buffer, index: number): string {
  return serialBytes.subarray(index * SERIAL_LEN, (index + 1) * SERIAL_LEN).toString('hex').toUpperCase();
}

export function buildLargeCrlDer(
  issuer: {certPem: string; keyPem: string},
  count: number,
  opts: LargeCrlOptions = {},
): Buffer {
  const thisUpdate = opts.thisUpdate ?? new Date(Date.now() - 3600_000);
  const nextUpdate = opts.nextUpdate ?? new Date(thisUpdate.getTime() + 30 * 24 * 3600_000);
  const serials = largeCrlSerialBytes(count, opts.seed);
  const time = derTime(thisUpdate); // revocationDate of every generated entry
  // RevokedCertificate ::= SEQUENCE { INTEGER (16 octets), Time }
  const content = 2 + SERIAL_LEN + time.length;
  if (content > 0x7f) throw new Error('unexpected entry size');
  const entryLen = 2 + content;
  const extra = (opts.includeSerials ?? []).map(s => encodeRevokedEntry(s, thisUpdate));
  const extraLen = extra.reduce((n, b) => n + b.length, 0);
  const revoked = Buffer.allocUnsafe(count * entryLen + extraLen);
  const header = Buffer.from([0x30, content, 0x02, SERIAL_LEN]);
  let p = 0;
  for (let i = 0; i < count; i++) {
    header.copy(revoked, p);
    serials.copy(revoked, p + 4, i * SERIAL_LEN, (i + 1) * SERIAL_LEN);
    time.copy(revoked, p + 4 + SERIAL_LEN);
    p += entryLen;
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
    revoked,
  });
}
