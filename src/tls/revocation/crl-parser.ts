/**
 * CRL parser (RFC 5280 §5) for the revocation index. Pure: no LoopBack imports.
 *
 * Why a hand-written DER reader (./der.ts) and not asn1js/pkijs/@peculiar/x509:
 * a general ASN.1 library decodes a CRL into one object graph with several JS objects per
 * revoked entry (SEQUENCE, INTEGER, Time, their value blocks, ...). At 1,000,000 entries that is
 * tens of millions of short-lived objects, hundreds of MB of heap, and — because the decode is a
 * single synchronous call — an event-loop stall of several seconds, during which no TLS
 * handshake or request is served. Node's own `crl` TLS option is not an option either: OpenSSL
 * re-hashes the whole CRL on every handshake (~1 handshake/s at 1M entries).
 *
 * So this parser:
 * - walks the DER by offset with a strict, allocation-free TLV reader (definite minimal lengths,
 *   every TLV bounds-checked against its parent, children must exactly fill their parent,
 *   trailing garbage rejected, wrong tags rejected);
 * - never creates an object per entry: pass 1 validates every entry and records the offset of
 *   its serial in a typed array; pass 2 inserts the serials into a SerialSet (Buffers; negative
 *   serials included - only magnitudes over 20 octets become strings, at most
 *   MAX_OVERFLOW_SERIALS of them);
 * - yields to the event loop (`await setImmediate()`) after every `chunkSize` entries and
 *   whenever a slice has run for SLICE_BUDGET_MS of wall-clock time, reading the clock every
 *   CLOCK_CHECK_EVERY entries (validation, SerialSet inserts, overflow keys) and after every
 *   ZERO_FILL_PIECE_BYTES of table zeroing - so a slice overruns its budget by at most a few
 *   entries' work (a unit test drives the slicer with an injected clock; an integration test
 *   bounds the event-loop delay while parsing 1M entries);
 * - decodes PEM with its own chunked, strict base64 decoder for the same reason.
 *
 * Every failure is an AppError CRL_INVALID; nothing else escapes parseCrl().
 */
import {setImmediate as yieldToLoop} from 'node:timers/promises';
import {performance} from 'node:perf_hooks';
import {AppError, isAppError} from '../../errors';
import {DerReader, readAlgorithmIdentifier, TAG, toHex} from '../../x509/der';
import {newExtensionCursor, parseExtension, readExtensions} from '../../x509/extensions';
import {checkName} from '../../x509/name';
import {SerialSet, SerialSetBuilder, MAX_OVERFLOW_SERIALS, MAX_TABLE_SERIAL_BYTES} from './serial-set';
import {serialKeyOfDerInteger} from '../../x509/serial';

export interface ParsedCrl {
  /** 1 (no version field) or 2. */
  readonly version: 1 | 2;
  /** Dotted OID of the signature algorithm (inner and outer AlgorithmIdentifier are byte-equal). */
  readonly signatureAlgorithmOid: string;
  /** Raw TLV of the AlgorithmIdentifier parameters, when present (e.g. NULL for RSA). */
  readonly signatureAlgorithmParams?: Buffer;
  /** The signed TBSCertList TLV (a slice of the DER, not a copy). */
  readonly tbsDer: Buffer;
  /** signatureValue BIT STRING content without the unused-bits octet. */
  readonly signature: Buffer;
  /** Raw issuer Name TLV, matched with the CA certificate's subject per RFC 5280 §7.1 (src/x509/name.ts). */
  readonly issuerNameDer: Buffer;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly crlNumber?: bigint;
  /** keyIdentifier of the authorityKeyIdentifier extension, upper-case hex. */
  readonly authorityKeyIdentifier?: string;
  readonly revoked: SerialSet;
  /** Number of entries in revokedCertificates (duplicates counted). */
  readonly entryCount: number;
  /**
   * The issuingDistributionPoint scope (RFC 5280 §5.2.5), when the CRL carries one: the CRL then
   * answers only for certificates inside it (revocation-index.ts applies it). Indirect and delta
   * CRLs are refused at parse time (CRL_INDIRECT_UNSUPPORTED, CRL_DELTA_UNSUPPORTED).
   */
  readonly scope?: CrlScope;
  /**
   * true when the CRL carries an extension this implementation must not ignore: any critical
   * CRL or CRL-entry extension it does not process. Such a CRL must not be used (RFC 5280 §5.2, §5.3).
   */
  readonly hasCriticalUnknownExtension: boolean;
  /** The OIDs behind hasCriticalUnknownExtension ("entry:" prefix for CRL-entry extensions). */
  readonly unsupportedExtensions: readonly string[];
}

/** issuingDistributionPoint (RFC 5280 §5.2.5) as the revocation index applies it. */
export interface CrlScope {
  /** fullName URIs of distributionPoint; a certificate is in scope when one of its CRL DP URIs is listed. */
  readonly distributionPoints: readonly string[];
  /** distributionPoint present (in any form): a certificate must match it. */
  readonly hasDistributionPoint: boolean;
  readonly onlyContainsUserCerts: boolean;
  readonly onlyContainsCACerts: boolean;
  /** onlySomeReasons present: the CRL lists some reasons only, so not being listed proves nothing. */
  readonly onlySomeReasons: boolean;
  /** onlyContainsAttributeCerts: applies to no public-key certificate. */
  readonly onlyContainsAttributeCerts: boolean;
  /** The extension's DER in hex: one CRL per issuer and scope is kept. */
  readonly key: string;
}

export interface ParseCrlOptions {
  /** Entries processed between yields to the event loop (default 8192; time slicing also applies). */
  chunkSize?: number;
  /** Called with each slice's duration (ms) and units of work, for tests and benchmarks. */
  onSlice?: SliceObserver;
  /** Milliseconds clock of the time slicing (default performance.now); tests inject their own. */
  clock?: () => number;
  /** Largest accepted input in bytes (default 256 MiB). */
  maxBytes?: number;
}

export const DEFAULT_CHUNK_SIZE = 8192;
export const DEFAULT_MAX_CRL_BYTES = 256 * 1024 * 1024;
/** A slice yields once it has run this many ms (wall clock: preemption counts too). */
export const SLICE_BUDGET_MS = 5;
/**
 * Entries between two clock reads (a power of two; it was 256). A read costs ~50 ns, an entry
 * 0.5-3 us, so the check costs <1% and a slice overruns its budget by at most 16 entries' work;
 * a slice stretched by preemption or a page-fault burst yields at its next clock read.
 */
export const CLOCK_CHECK_EVERY = 16;
/** The SerialSet table is zeroed (its pages faulted in) in pieces of this size, clock read after each. */
const ZERO_FILL_PIECE_BYTES = 256 * 1024;

export const OID = {
  CRL_NUMBER: '2.5.29.20',
  AUTHORITY_KEY_IDENTIFIER: '2.5.29.35',
  ISSUING_DISTRIBUTION_POINT: '2.5.29.28',
  DELTA_CRL_INDICATOR: '2.5.29.27',
} as const;

const PEM_BEGIN = Buffer.from('-----BEGIN X509 CRL-----', 'latin1');
const PEM_END = Buffer.from('-----END X509 CRL-----', 'latin1');
const ANY_PEM_BEGIN = Buffer.from('-----BEGIN', 'latin1');

/** Observes the slices of a parse (tests and benchmarks): duration in ms and units of work. */
export type SliceObserver = (ms: number, units: number) => void;

/** Cooperative scheduler: yield every `chunk` units or when the slice exceeded its budget. */
class Slicer {
  private since = 0;
  private t0: number;
  constructor(
    private readonly chunk: number,
    private readonly observe: SliceObserver | undefined,
    private readonly clock: () => number,
  ) {
    this.t0 = clock();
  }
  /** Call once per unit of work: true when it is time to yield. */
  tick(): boolean {
    const n = ++this.since;
    if (n >= this.chunk) return true;
    return (n & (CLOCK_CHECK_EVERY - 1)) === 0 && this.clock() - this.t0 >= SLICE_BUDGET_MS;
  }
  /** Time-only check for loops that do not count entries (PEM decoding, table zeroing). */
  overBudget(): boolean {
    return this.clock() - this.t0 >= SLICE_BUDGET_MS;
  }
  async yield(): Promise<void> {
    this.observe?.(this.clock() - this.t0, this.since);
    await yieldToLoop();
    this.since = 0;
    this.t0 = this.clock();
  }
  /** End of the parse: report the last slice. */
  done(): void {
    this.observe?.(this.clock() - this.t0, this.since);
  }
}

const defaultClock = (): number => performance.now();

function invalid(message: string, details: Record<string, unknown> = {}): AppError {
  return new AppError('CRL_INVALID', message, details);
}

/**
 * Parse a DER or PEM ("-----BEGIN X509 CRL-----") CRL. Rejects with AppError CRL_INVALID on any
 * malformation; never rejects with anything else.
 */
export async function parseCrl(input: Buffer | Uint8Array, opts: ParseCrlOptions = {}): Promise<ParsedCrl> {
  try {
    return await parseCrlUnchecked(input, opts);
  } catch (e) {
    if (isAppError(e)) throw e;
    throw new AppError('CRL_INVALID', 'CRL could not be parsed', {}, {cause: e});
  }
}

async function parseCrlUnchecked(input: Buffer | Uint8Array, opts: ParseCrlOptions): Promise<ParsedCrl> {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_CRL_BYTES;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw invalid('chunkSize must be a positive integer');
  if (!(input instanceof Uint8Array)) throw invalid('CRL input is not a buffer');
  if (input.length > maxBytes) throw invalid('CRL is larger than the accepted maximum', {bytes: input.length, maxBytes});
  const raw = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.length);
  if (opts.clock !== undefined && typeof opts.clock !== 'function') throw invalid('clock must be a function');
  const slicer = new Slicer(chunkSize, opts.onSlice, opts.clock ?? defaultClock);
  const der = raw.length > 0 && raw[0] === TAG.SEQUENCE ? raw : await pemToDer(raw, slicer);
  const parsed = await parseDer(der, slicer);
  slicer.done();
  return parsed;
}

// ------------------------------------------------------------------------------------------
// PEM

const B64 = (() => {
  const t = new Int8Array(256).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) t[alphabet.charCodeAt(i)] = i;
  for (const c of [0x20, 0x09, 0x0d, 0x0a]) t[c] = -2; // whitespace
  t[0x3d] = -3; // '='
  return t;
})();

function isWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
}

async function pemToDer(raw: Buffer, slicer: Slicer): Promise<Buffer> {
  const begin = raw.indexOf(PEM_BEGIN);
  if (begin < 0) throw invalid('input is neither DER nor a PEM X509 CRL');
  // Explanatory text before the block is allowed (RFC 7468 §2) but not another PEM block.
  const otherBegin = raw.indexOf(ANY_PEM_BEGIN);
  if (otherBegin !== begin) throw invalid('PEM input holds another block before the X509 CRL');
  const bodyStart = begin + PEM_BEGIN.length;
  // Search the END line from the back: a forward indexOf would touch every page of a 50 MB
  // PEM in one synchronous call. A second END/BEGIN line inside the body is rejected by the
  // base64 decoder ('-' is not a base64 character).
  const endPos = raw.lastIndexOf(PEM_END);
  if (endPos < bodyStart) throw invalid('PEM X509 CRL has no END line');
  for (let i = endPos + PEM_END.length; i < raw.length; i++) {
    if (!isWhitespace(raw[i])) throw invalid('trailing data after the PEM X509 CRL');
  }
  // SharedArrayBuffer-backed so a large TBS can be verified in a worker without a copy.
  const out = Buffer.from(new SharedArrayBuffer(Math.floor(((endPos - bodyStart) * 3) / 4) + 3));
  let o = 0;
  let acc = 0;
  let nacc = 0; // sextets in acc
  let chars = 0;
  let pad = 0;
  for (let i = bodyStart; i < endPos; i++) {
    const v = B64[raw[i]];
    if (v >= 0) {
      if (pad > 0) throw invalid('PEM base64 data after padding');
      acc = (acc << 6) | v;
      chars++;
      if (++nacc === 4) {
        out[o++] = (acc >> 16) & 0xff;
        out[o++] = (acc >> 8) & 0xff;
        out[o++] = acc & 0xff;
        acc = 0;
        nacc = 0;
      }
    } else if (v === -3) {
      pad++;
      if (pad > 2) throw invalid('PEM base64 padding');
    } else if (v !== -2) {
      throw invalid('PEM body holds a non-base64 character', {offset: i});
    }
    if ((i & 0x3fff) === 0 && slicer.overBudget()) await slicer.yield();
  }
  if ((chars + pad) % 4 !== 0 || (pad > 0 && nacc !== 4 - pad)) throw invalid('PEM base64 length');
  if (nacc === 3) {
    if ((acc & 0x3) !== 0) throw invalid('PEM base64 non-canonical padding bits');
    out[o++] = (acc >> 10) & 0xff;
    out[o++] = (acc >> 2) & 0xff;
  } else if (nacc === 2) {
    if ((acc & 0xf) !== 0) throw invalid('PEM base64 non-canonical padding bits');
    out[o++] = (acc >> 4) & 0xff;
  }
  if (o === 0) throw invalid('PEM X509 CRL is empty');
  return out.subarray(0, o);
}

// ------------------------------------------------------------------------------------------
// DER

/** Per-entry extension OID ranges, reused (at most this many extensions per entry). */
const MAX_ENTRY_EXTENSIONS = 32;

async function parseDer(der: Buffer, slicer: Slicer): Promise<ParsedCrl> {
  const r = new DerReader(der, 'CRL_INVALID');
  const total = der.length;

  // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }
  const certListEnd = r.expect(0, total, TAG.SEQUENCE, 'CertificateList');
  if (certListEnd !== total) r.fail('trailing data after CertificateList', certListEnd);
  let p = r.start;

  const tbsStart = p;
  const tbsEnd = r.expect(p, certListEnd, TAG.SEQUENCE, 'TBSCertList');
  const tbsContentStart = r.start;
  p = tbsEnd;

  const outerAlgStart = p;
  const outerAlgEnd = r.expect(p, certListEnd, TAG.SEQUENCE, 'signatureAlgorithm');
  p = outerAlgEnd;

  const sigEnd = r.expect(p, certListEnd, TAG.BIT_STRING, 'signatureValue');
  if (r.end - r.start < 2) r.fail('empty signatureValue', p);
  if (der[r.start] !== 0) r.fail('signatureValue has unused bits', r.start);
  const signature = der.subarray(r.start + 1, r.end);
  if (sigEnd !== certListEnd) r.fail('trailing data in CertificateList', sigEnd);

  // TBSCertList
  p = tbsContentStart;
  let version: 1 | 2 = 1;
  if (r.peek(p, tbsEnd) === TAG.INTEGER) {
    p = r.header(p, tbsEnd);
    r.checkInteger(r.start, r.end);
    if (r.end - r.start !== 1 || der[r.start] !== 1) r.fail('unsupported CRL version', r.start);
    version = 2;
  }

  const innerAlgStart = p;
  const innerAlgEnd = r.expect(p, tbsEnd, TAG.SEQUENCE, 'signature');
  if (innerAlgEnd - innerAlgStart !== outerAlgEnd - outerAlgStart || der.compare(der, innerAlgStart, innerAlgEnd, outerAlgStart, outerAlgEnd) !== 0) {
    r.fail('TBSCertList.signature differs from signatureAlgorithm', innerAlgStart);
  }
  const {oid: signatureAlgorithmOid, params: signatureAlgorithmParams} = readAlgorithmIdentifier(r, innerAlgStart, innerAlgEnd);
  p = innerAlgEnd;

  const issuerStart = p;
  p = r.expect(p, tbsEnd, TAG.SEQUENCE, 'issuer');
  checkName(r, r.start, r.end);
  const issuerNameDer = der.subarray(issuerStart, p);

  const thisTag = r.peek(p, tbsEnd);
  if (thisTag !== TAG.UTC_TIME && thisTag !== TAG.GENERALIZED_TIME) r.fail('missing thisUpdate', p);
  p = r.header(p, tbsEnd);
  const thisUpdateMs = r.time(thisTag, r.start, r.end);

  let nextUpdateMs: number | undefined;
  const nextTag = r.peek(p, tbsEnd);
  if (nextTag === TAG.UTC_TIME || nextTag === TAG.GENERALIZED_TIME) {
    p = r.header(p, tbsEnd);
    nextUpdateMs = r.time(nextTag, r.start, r.end);
    if (nextUpdateMs < thisUpdateMs) r.fail('nextUpdate is before thisUpdate', r.start);
  }

  const unsupported: string[] = [];
  let entryCount = 0;
  let revoked: SerialSet;
  if (r.peek(p, tbsEnd) === TAG.SEQUENCE) {
    const listEnd = r.header(p, tbsEnd);
    const listStart = r.start;
    p = listEnd;
    const res = await readEntries(r, listStart, listEnd, version, slicer, unsupported);
    entryCount = res.entryCount;
    revoked = res.revoked;
  } else {
    revoked = SerialSet.empty();
  }

  let crlNumber: bigint | undefined;
  let authorityKeyIdentifier: string | undefined;
  let scope: CrlScope | undefined;
  if (r.peek(p, tbsEnd) === TAG.CTX0_CONSTRUCTED) {
    if (version !== 2) r.fail('crlExtensions in a v1 CRL', p);
    const wrapEnd = r.header(p, tbsEnd);
    const extsEnd = r.expect(r.start, wrapEnd, TAG.SEQUENCE, 'crlExtensions');
    if (extsEnd !== wrapEnd) r.fail('trailing data after crlExtensions', extsEnd);
    const exts = readExtensions(r, r.start, extsEnd);
    for (const ext of exts) {
      switch (ext.oid) {
        case OID.CRL_NUMBER:
          crlNumber = readCrlNumber(r, ext.valueStart, ext.valueEnd);
          break;
        case OID.AUTHORITY_KEY_IDENTIFIER:
          authorityKeyIdentifier = readAkiKeyId(r, ext.valueStart, ext.valueEnd);
          break;
        case OID.ISSUING_DISTRIBUTION_POINT:
          scope = readIssuingDistributionPoint(r, ext.valueStart, ext.valueEnd);
          break;
        case OID.DELTA_CRL_INDICATOR:
          throw new AppError('CRL_DELTA_UNSUPPORTED', 'delta CRLs are not supported; load the complete CRL');
        default:
          if (ext.critical) unsupported.push(ext.oid);
      }
    }
    p = wrapEnd;
  }
  if (p !== tbsEnd) r.fail('unexpected data in TBSCertList', p);

  return {
    version,
    signatureAlgorithmOid,
    ...(signatureAlgorithmParams ? {signatureAlgorithmParams} : {}),
    tbsDer: der.subarray(tbsStart, tbsEnd),
    signature,
    issuerNameDer,
    thisUpdate: new Date(thisUpdateMs),
    ...(nextUpdateMs !== undefined ? {nextUpdate: new Date(nextUpdateMs)} : {}),
    ...(crlNumber !== undefined ? {crlNumber} : {}),
    ...(authorityKeyIdentifier !== undefined ? {authorityKeyIdentifier} : {}),
    ...(scope ? {scope} : {}),
    revoked,
    entryCount,
    hasCriticalUnknownExtension: unsupported.length > 0,
    unsupportedExtensions: unsupported,
  };
}

function readCrlNumber(r: DerReader, start: number, end: number): bigint {
  r.expect(start, end, TAG.INTEGER, 'cRLNumber');
  r.checkInteger(r.start, r.end);
  const len = r.end - r.start;
  if ((r.buf[r.start] & 0x80) !== 0) r.fail('negative cRLNumber', r.start);
  if (len > 21 || (len === 21 && r.buf[r.start] !== 0)) r.fail('cRLNumber longer than 20 octets', r.start);
  return BigInt('0x' + toHex(r.buf, r.start, r.end));
}

/** AuthorityKeyIdentifier ::= SEQUENCE { [0] keyIdentifier OPTIONAL, [1] GeneralNames OPTIONAL, [2] serial OPTIONAL } */
function readAkiKeyId(r: DerReader, start: number, end: number): string | undefined {
  const seqEnd = r.expect(start, end, TAG.SEQUENCE, 'AuthorityKeyIdentifier');
  let p = r.start;
  let keyId: string | undefined;
  if (r.peek(p, seqEnd) === 0x80) {
    p = r.header(p, seqEnd);
    if (r.end === r.start) r.fail('empty keyIdentifier', r.start);
    keyId = toHex(r.buf, r.start, r.end);
  }
  if (r.peek(p, seqEnd) === 0xa1) {
    p = r.header(p, seqEnd);
    r.checkTlvs(r.start, r.end);
  }
  if (r.peek(p, seqEnd) === 0x82) {
    p = r.header(p, seqEnd);
    r.checkInteger(r.start, r.end);
  }
  if (p !== seqEnd) r.fail('unexpected data in AuthorityKeyIdentifier', p);
  return keyId;
}

/**
 * IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName OPTIONAL,
 * onlyContainsUserCerts [1] BOOLEAN DEFAULT FALSE, onlyContainsCACerts [2] BOOLEAN DEFAULT FALSE,
 * onlySomeReasons [3] ReasonFlags OPTIONAL, indirectCRL [4] BOOLEAN DEFAULT FALSE,
 * onlyContainsAttributeCerts [5] BOOLEAN DEFAULT FALSE }. An indirect CRL is refused.
 */
function readIssuingDistributionPoint(r: DerReader, start: number, end: number): CrlScope {
  const seqEnd = r.expect(start, end, TAG.SEQUENCE, 'IssuingDistributionPoint');
  let p = r.start;
  const distributionPoints: string[] = [];
  let hasDistributionPoint = false;
  const flags = {user: false, ca: false, reasons: false, indirect: false, attr: false};
  if (r.peek(p, seqEnd) === TAG.CTX0_CONSTRUCTED) {
    hasDistributionPoint = true;
    const dpEnd = r.header(p, seqEnd);
    const nameEnd = r.header(r.start, dpEnd);
    if (nameEnd !== dpEnd) r.fail('trailing data in distributionPoint', nameEnd);
    if (r.tag === TAG.CTX0_CONSTRUCTED) {
      // fullName GeneralNames: URIs [6] are matched; other forms are kept out (never match).
      let q = r.start;
      const namesEnd = r.end;
      while (q < namesEnd) {
        const e = r.header(q, namesEnd);
        const gnTag: number = r.tag;
        if ((gnTag & 0xc0) !== 0x80) r.fail('GeneralName with a non-context tag', q);
        if (gnTag === 0x86) distributionPoints.push(r.buf.toString('latin1', r.start, r.end));
        else if ((gnTag & 0x20) !== 0) r.checkTlvs(r.start, r.end);
        q = e;
      }
    } else if (r.tag === TAG.CTX1_CONSTRUCTED) {
      checkName(r, r.start, r.end); // nameRelativeToCRLIssuer: never matches a certificate's URI
    } else {
      r.fail('bad DistributionPointName', p);
    }
    p = dpEnd;
  }
  const bool = (tag: number): boolean => {
    if (r.peek(p, seqEnd) !== tag) return false;
    p = r.header(p, seqEnd);
    const v = r.boolean(r.start, r.end);
    if (!v) r.fail('DEFAULT FALSE encoded', r.start);
    return v;
  };
  flags.user = bool(0x81);
  flags.ca = bool(0x82);
  if (r.peek(p, seqEnd) === 0x83) {
    p = r.header(p, seqEnd);
    if (r.end - r.start < 1 || r.buf[r.start] > 7) r.fail('onlySomeReasons BIT STRING', r.start);
    flags.reasons = true;
  }
  flags.indirect = bool(0x84);
  flags.attr = bool(0x85);
  if (p !== seqEnd) r.fail('unexpected data in IssuingDistributionPoint', p);
  if ([flags.user, flags.ca, flags.attr].filter(Boolean).length > 1) r.fail('IssuingDistributionPoint with more than one onlyContains flag', start);
  if (flags.indirect) throw new AppError('CRL_INDIRECT_UNSUPPORTED', "indirect CRLs are not supported; load each CA's own CRL");
  const scope = {
    distributionPoints,
    hasDistributionPoint,
    onlyContainsUserCerts: flags.user,
    onlyContainsCACerts: flags.ca,
    onlySomeReasons: flags.reasons,
    onlyContainsAttributeCerts: flags.attr,
  };
  return {...scope, key: r.buf.toString('hex', start, end)};
}

const entryExtStarts = new Int32Array(MAX_ENTRY_EXTENSIONS);
const entryExtension = newExtensionCursor();
const entryExtEnds = new Int32Array(MAX_ENTRY_EXTENSIONS);

/**
 * revokedCertificates ::= SEQUENCE OF SEQUENCE { userCertificate INTEGER, revocationDate Time,
 * crlEntryExtensions Extensions OPTIONAL }. Pass 1 validates and records serial offsets; pass 2
 * builds the SerialSet. Both passes yield to the event loop.
 */
async function readEntries(
  r: DerReader,
  start: number,
  end: number,
  version: 1 | 2,
  slicer: Slicer,
  unsupported: string[],
): Promise<{entryCount: number; revoked: SerialSet}> {
  const der = r.buf;
  // Smallest entry: 30 12 | 02 01 xx | 17 0d <13>  => 20 bytes.
  const maxEntries = Math.ceil((end - start) / 20);
  const serialStart = new Uint32Array(maxEntries);
  const serialLen = new Uint8Array(maxEntries);
  let recorded = 0;
  let positives = 0;
  let maxMagnitude = 1;
  let negatives = 0;
  let maxNegativeMagnitude = 1;
  const overflowKeys: string[] = [];
  const entryUnsupported = new Set<string>();
  let entryCount = 0;

  let p = start;
  while (p < end) {
    const entryEnd = r.expect(p, end, TAG.SEQUENCE, 'revoked entry');
    let q = r.expect(r.start, entryEnd, TAG.INTEGER, 'userCertificate');
    const s = r.start;
    const e = r.end;
    r.checkInteger(s, e);
    const t = r.peek(q, entryEnd);
    if (t !== TAG.UTC_TIME && t !== TAG.GENERALIZED_TIME) r.fail('missing revocationDate', q);
    q = r.header(q, entryEnd);
    r.time(t, r.start, r.end);
    if (q !== entryEnd) {
      if (version !== 2) r.fail('crlEntryExtensions in a v1 CRL', q);
      q = r.expect(q, entryEnd, TAG.SEQUENCE, 'crlEntryExtensions');
      checkEntryExtensions(r, r.start, r.end, entryUnsupported);
      if (q !== entryEnd) r.fail('trailing data in revoked entry', q);
    }
    // Record the serial (an offset, not a string). Magnitudes over 20 octets become overflow
    // keys, bounded: a CRL cannot grow the overflow Set without limit.
    const negative = (der[s] & 0x80) !== 0;
    // Minimal DER: a positive serial's magnitude drops a 00 sign octet; a negative one's
    // magnitude is at most its content length (and at least one octet shorter only rarely).
    const mag = negative ? e - s : der[s] === 0 && e - s > 1 ? e - s - 1 : e - s;
    if (mag > MAX_TABLE_SERIAL_BYTES + (negative ? 1 : 0)) {
      if (overflowKeys.length >= MAX_OVERFLOW_SERIALS) r.fail('too many serial numbers longer than 20 octets', s);
      overflowKeys.push(serialKeyOfDerInteger(der, s, e));
    } else {
      serialStart[recorded] = s;
      serialLen[recorded] = e - s;
      recorded++;
      const width = Math.min(mag, MAX_TABLE_SERIAL_BYTES);
      if (negative) {
        negatives++;
        if (width > maxNegativeMagnitude) maxNegativeMagnitude = width;
      } else {
        positives++;
        if (width > maxMagnitude) maxMagnitude = width;
      }
    }
    entryCount++;
    p = entryEnd;
    if (slicer.tick()) await slicer.yield();
  }
  for (const oid of entryUnsupported) unsupported.push('entry:' + oid);

  const builder = new SerialSetBuilder(positives, maxMagnitude, false, {count: negatives, maxMagnitudeBytes: maxNegativeMagnitude});
  await builder.zeroFill(ZERO_FILL_PIECE_BYTES, async () => {
    if (slicer.overBudget()) await slicer.yield();
  });
  for (let i = 0; i < recorded; i++) {
    const s = serialStart[i];
    builder.addDerInteger(der, s, s + serialLen[i]);
    if (slicer.tick()) await slicer.yield();
  }
  // Serials over 20 octets (at most MAX_OVERFLOW_SERIALS): sliced like the rest.
  for (let i = 0; i < overflowKeys.length; i++) {
    builder.addKey(overflowKeys[i]);
    if (slicer.tick()) await slicer.yield();
  }
  return {entryCount, revoked: builder.build()};
}

/** Validate crlEntryExtensions without allocating; collect critical ones (none is understood). */
function checkEntryExtensions(r: DerReader, start: number, end: number, entryUnsupported: Set<string>): void {
  const der = r.buf;
  let n = 0;
  let p = start;
  if (p === end) r.fail('empty crlEntryExtensions', p);
  while (p < end) {
    const extEnd = parseExtension(r, p, end, entryExtension);
    const {oidStart, oidEnd, critical} = entryExtension;
    if (n === MAX_ENTRY_EXTENSIONS) r.fail('too many entry extensions', p);
    for (let i = 0; i < n; i++) {
      if (entryExtEnds[i] - entryExtStarts[i] === oidEnd - oidStart && der.compare(der, entryExtStarts[i], entryExtEnds[i], oidStart, oidEnd) === 0) {
        r.fail('duplicate entry extension', p);
      }
    }
    entryExtStarts[n] = oidStart;
    entryExtEnds[n] = oidEnd;
    n++;
    // reasonCode, invalidityDate, certificateIssuer...: none changes "listed => revoked" except
    // certificateIssuer (indirect CRLs), which RFC 5280 makes critical. Any critical one => unusable.
    if (critical) entryUnsupported.add(r.oidString(oidStart, oidEnd));
    p = extEnd;
  }
}
