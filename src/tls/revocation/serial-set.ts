/**
 * SerialSet: memory-lean O(1) membership for millions of certificate serials.
 *
 * A `Set<string>` of 1M 40-character hex keys costs ~100 MB of V8 heap (string header + chars +
 * hash-table entry per key) and puts a million objects in front of the garbage collector. Here
 * the serials live in Buffers used as open-addressing hash tables (linear probing, load
 * factor <= 0.7) of fixed-width slots:
 *
 *   slot = [1 byte: 0 empty / 1 used][W bytes: magnitude, big-endian, right-aligned, zero-padded]
 *
 * W is the longest magnitude in the table (RFC 5280 §4.1.2.2 caps serials at 20 octets), so a CA
 * with short sequential serials pays a few bytes per slot and one with 20-byte random serials
 * pays 21. Non-conforming negative serials (which OpenSSL accepts) get a second table of their
 * magnitudes, so a CRL full of them costs no more than a conforming one (they used to be strings
 * in a Set: at 1M entries, 100+ MB of heap and Set rehashes that blocked the event loop for
 * ~100 ms each). Magnitudes longer than 20 octets go to a small overflow `Set<string>` of serial
 * keys, bounded by MAX_OVERFLOW_SERIALS (beyond it the CRL is refused: CRL_INVALID).
 *
 * Keys are the serial keys of ./serial.ts (upper-case hex magnitude, no leading zeros, "-" for
 * negative serials).
 *
 * Pure module: no LoopBack imports.
 */
import {AppError} from '../../errors';
import {normalizeSerial, serialKeyOfDerInteger} from '../../x509/serial';

/** RFC 5280 §4.1.2.2: conforming serials are at most 20 octets. */
export const MAX_TABLE_SERIAL_BYTES = 20;
/**
 * Serials longer than 20 octets a set holds at most (as strings). No conforming CA issues one;
 * a CRL with more is refused (CRL_INVALID) rather than grown into a large `Set<string>`.
 */
export const MAX_OVERFLOW_SERIALS = 10_000;
const MAX_LOAD = 0.7;

function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= buf[i];
    h = Math.imul(h, 0x01000193);
  }
  // murmur3 fmix32: spread FNV's weak low bits (sequential serials).
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One open-addressing table of magnitudes of at most MAX_TABLE_SERIAL_BYTES octets. */
class MagnitudeTable {
  readonly slotSize: number;
  readonly table: Buffer;
  readonly capacity: number;
  readonly width: number;

  /** Sized for `expected` magnitudes of at most `maxMagnitudeBytes` octets. */
  constructor(expected: number, maxMagnitudeBytes: number, zeroFilled: boolean) {
    this.width = Math.max(1, Math.min(MAX_TABLE_SERIAL_BYTES, maxMagnitudeBytes | 0));
    this.slotSize = this.width + 1;
    this.capacity = Math.max(8, Math.ceil(expected / MAX_LOAD) + 1);
    this.table = zeroFilled ? Buffer.alloc(this.capacity * this.slotSize) : Buffer.allocUnsafeSlow(this.capacity * this.slotSize);
  }

  /** Slot index holding magnitude m[start,end) or -1 (-2 - freeSlot when absent). */
  find(m: Uint8Array, start: number, end: number): number {
    const {table, capacity, width, slotSize} = this;
    const len = end - start;
    let idx = hashBytes(m, start, end) % capacity;
    for (let probes = 0; probes < capacity; probes++) {
      const off = idx * slotSize;
      if (table[off] === 0) return -2 - idx;
      if (slotEquals(table, off + 1, width, m, start, len)) return idx;
      idx = idx + 1 === capacity ? 0 : idx + 1;
    }
    return -1; // full table (never happens: load <= 0.7)
  }

  /** Write magnitude m[start,end) into the free slot `idx`. */
  put(idx: number, m: Uint8Array, start: number, end: number): void {
    const len = end - start;
    const off = idx * this.slotSize;
    this.table[off] = 1;
    const base = off + 1 + this.width - len;
    for (let i = 0; i < len; i++) this.table[base + i] = m[start + i];
  }
}

export class SerialSet {
  /** Reused for lookups; has() is synchronous so sharing is safe. */
  private readonly scratch: Buffer;

  /** @internal use SerialSetBuilder / SerialSet.fromKeys / SerialSet.empty */
  constructor(
    private readonly positive: MagnitudeTable,
    private readonly positiveCount: number,
    private readonly negative: MagnitudeTable,
    private readonly negativeCount: number,
    private readonly overflow: ReadonlySet<string>,
  ) {
    this.scratch = Buffer.alloc(MAX_TABLE_SERIAL_BYTES);
  }

  static empty(): SerialSet {
    return new SerialSetBuilder(0, 1).build();
  }

  /** Build from serial keys or Node serialNumber strings (normalised here). */
  static fromKeys(keys: Iterable<string>): SerialSet {
    const normalised = [...new Set([...keys].map(k => normalizeSerial(k, 'CRL_INVALID')))];
    let width = 1;
    let negWidth = 1;
    let negatives = 0;
    for (const k of normalised) {
      const bytes = Math.ceil((k.startsWith('-') ? k.length - 1 : k.length) / 2);
      if (k.startsWith('-')) {
        negatives++;
        negWidth = Math.max(negWidth, bytes);
      } else {
        width = Math.max(width, bytes);
      }
    }
    const b = new SerialSetBuilder(normalised.length - negatives, Math.min(width, MAX_TABLE_SERIAL_BYTES), true, {
      count: negatives,
      maxMagnitudeBytes: Math.min(negWidth, MAX_TABLE_SERIAL_BYTES),
    });
    for (const k of normalised) b.addKey(k);
    return b.build();
  }

  /** Number of distinct serials. */
  get size(): number {
    return this.positiveCount + this.negativeCount + this.overflow.size;
  }

  /** Bytes held by the backing storage (tables + rough overflow estimate), for reporting. */
  get byteLength(): number {
    let o = 0;
    for (const k of this.overflow) o += 64 + k.length;
    return this.positive.table.length + this.negative.table.length + o;
  }

  /**
   * Membership by serial key. The key is normalised first (so "009F01" finds "9F01"); a key
   * that is not hexadecimal throws AppError AUTH_CERT_MALFORMED (never a silent "not revoked").
   */
  has(serialKey: string): boolean {
    const key = normalizeSerial(serialKey);
    const neg = key.charCodeAt(0) === 0x2d; /* - */
    const mag = neg ? key.slice(1) : key;
    const len = mag === '0' ? 0 : (mag.length + 1) >> 1;
    if (len > MAX_TABLE_SERIAL_BYTES) return this.overflow.has(key);
    const table = neg ? this.negative : this.positive;
    if (len > table.width || (neg ? this.negativeCount : this.positiveCount) === 0) return false;
    decodeKey(mag, this.scratch);
    return table.find(this.scratch, 0, len) >= 0;
  }
}

function slotEquals(table: Buffer, off: number, width: number, m: Uint8Array, start: number, len: number): boolean {
  const pad = width - len;
  for (let i = 0; i < pad; i++) if (table[off + i] !== 0) return false;
  const base = off + pad;
  for (let i = 0; i < len; i++) if (table[base + i] !== m[start + i]) return false;
  return true;
}

/** Decode a normalised non-negative key (<= 20 octets) into out[0..len). Returns len. */
function decodeKey(key: string, out: Uint8Array): number {
  if (key === '0') return 0;
  const nibbles = key.length;
  let ci = 0;
  let bi = 0;
  if (nibbles & 1) out[bi++] = hexVal(key.charCodeAt(ci++));
  while (ci < nibbles) {
    out[bi++] = (hexVal(key.charCodeAt(ci)) << 4) | hexVal(key.charCodeAt(ci + 1));
    ci += 2;
  }
  return bi;
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  throw new AppError('AUTH_CERT_MALFORMED', 'serial number is not hexadecimal');
}

/** Sizing of the negative-serial table (non-conforming serials; usually none). */
export interface NegativeSerials {
  /** Upper bound on the negative serials of at most `maxMagnitudeBytes` (<= 20) magnitude octets. */
  readonly count: number;
  readonly maxMagnitudeBytes: number;
}

/**
 * Incremental builder. `expectedTableCount` is an upper bound on the number of non-negative
 * serials of at most `maxMagnitudeBytes` (<= 20) bytes that will be added; it sizes the table.
 * `negative` sizes the table of negative serials the same way.
 */
export class SerialSetBuilder {
  private readonly positive: MagnitudeTable;
  private readonly negative: MagnitudeTable;
  private readonly overflow = new Set<string>();
  private readonly scratch = Buffer.alloc(MAX_TABLE_SERIAL_BYTES + 1);
  private readonly positiveLimit: number;
  private readonly negativeLimit: number;
  private positiveCount = 0;
  private negativeCount = 0;
  private built = false;
  private ready: boolean;

  /**
   * @param zeroFilled false leaves the tables uninitialised: the caller must run zeroFill()
   *   before adding (lets a large table be zeroed, i.e. its pages faulted in, in slices).
   */
  constructor(
    expectedTableCount: number,
    maxMagnitudeBytes: number,
    zeroFilled = true,
    negative: NegativeSerials = {count: 0, maxMagnitudeBytes: 1},
  ) {
    for (const n of [expectedTableCount, negative.count]) {
      if (!Number.isSafeInteger(n) || n < 0) throw new AppError('INTERNAL_ERROR', 'invalid SerialSet size');
    }
    this.positive = new MagnitudeTable(expectedTableCount, maxMagnitudeBytes, zeroFilled);
    this.negative = new MagnitudeTable(negative.count, negative.maxMagnitudeBytes, zeroFilled);
    this.positiveLimit = expectedTableCount;
    this.negativeLimit = negative.count;
    this.ready = zeroFilled;
  }

  /**
   * Zero the tables in `sliceBytes` pieces, awaiting `between()` after each. Writing a table
   * sequentially first means the random-order inserts that follow hit resident pages, so no
   * insert slice pays for a burst of page faults.
   */
  async zeroFill(sliceBytes: number, between: () => Promise<void>): Promise<void> {
    for (const t of [this.positive.table, this.negative.table]) {
      for (let o = 0; o < t.length; o += sliceBytes) {
        t.fill(0, o, Math.min(t.length, o + sliceBytes));
        await between();
      }
    }
    this.ready = true;
  }

  /** Add the serial whose DER INTEGER content is buf[start, end) (two's complement). */
  addDerInteger(buf: Uint8Array, start: number, end: number): void {
    if (end <= start) throw new AppError('CRL_INVALID', 'serial number is empty');
    if ((buf[start] & 0x80) !== 0) {
      // Negative: magnitude = two's complement negation (invert, add one), leading zeros stripped.
      const n = end - start;
      if (n > MAX_TABLE_SERIAL_BYTES + 1) {
        this.addOverflow(serialKeyOfDerInteger(buf, start, end));
        return;
      }
      const m = this.scratch;
      let carry = 1;
      for (let i = n - 1; i >= 0; i--) {
        const v = (~buf[start + i] & 0xff) + carry;
        m[i] = v & 0xff;
        carry = v >> 8;
      }
      let s = 0;
      while (s < n && m[s] === 0) s++;
      if (n - s > MAX_TABLE_SERIAL_BYTES) {
        this.addOverflow(serialKeyOfDerInteger(buf, start, end));
        return;
      }
      this.insert(this.negative, true, m, s, n);
      return;
    }
    let s = start;
    while (s < end && buf[s] === 0) s++;
    if (end - s > MAX_TABLE_SERIAL_BYTES) {
      this.addOverflow(serialKeyOfDerInteger(buf, start, end));
      return;
    }
    this.insert(this.positive, false, buf, s, end);
  }

  /** Add a normalised serial key. */
  addKey(key: string): void {
    const neg = key.startsWith('-');
    const mag = neg ? key.slice(1) : key;
    if (mag.length > 2 * MAX_TABLE_SERIAL_BYTES) {
      this.addOverflow(key);
      return;
    }
    const n = decodeKey(mag, this.scratch);
    this.insert(neg ? this.negative : this.positive, neg, this.scratch, 0, n);
  }

  private addOverflow(key: string): void {
    if (this.overflow.has(key)) return;
    if (this.overflow.size >= MAX_OVERFLOW_SERIALS) {
      throw new AppError('CRL_INVALID', 'CRL lists too many serial numbers longer than 20 octets', {max: MAX_OVERFLOW_SERIALS});
    }
    this.overflow.add(key);
  }

  private insert(t: MagnitudeTable, neg: boolean, m: Uint8Array, start: number, end: number): void {
    if (!this.ready) throw new AppError('INTERNAL_ERROR', 'SerialSetBuilder.zeroFill() was not awaited');
    if (end - start > t.width) throw new AppError('INTERNAL_ERROR', 'serial wider than the SerialSet slots');
    const r = t.find(m, start, end);
    if (r >= 0) return; // duplicate
    const count = neg ? this.negativeCount : this.positiveCount;
    if (r === -1 || count >= (neg ? this.negativeLimit : this.positiveLimit)) throw new AppError('INTERNAL_ERROR', 'SerialSet capacity exceeded');
    t.put(-2 - r, m, start, end);
    if (neg) this.negativeCount++;
    else this.positiveCount++;
  }

  build(): SerialSet {
    if (this.built) throw new AppError('INTERNAL_ERROR', 'SerialSetBuilder.build() called twice');
    this.built = true;
    return new SerialSet(this.positive, this.positiveCount, this.negative, this.negativeCount, this.overflow);
  }
}
