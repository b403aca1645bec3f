/**
 * SerialSet: memory-lean O(1) membership for millions of certificate serials.
 *
 * A `Set<string>` of 1M 40-character hex keys costs ~100 MB of V8 heap (string header + chars +
 * hash-table entry per key) and puts a million objects in front of the garbage collector. Here
 * the serials live in ONE Buffer used as an open-addressing hash table (linear probing, load
 * factor <= 0.7) of fixed-width slots:
 *
 *   slot = [1 byte: 0 empty / 1 used][W bytes: magnitude, big-endian, right-aligned, zero-padded]
 *
 * W is the longest magnitude in the set (RFC 5280 §4.1.2.2 caps serials at 20 octets), so a CA
 * with short sequential serials pays a few bytes per slot and one with 20-byte random serials
 * pays 21. Magnitudes longer than 20 bytes and (non-conforming) negative serials go to a small
 * overflow `Set<string>` of serial keys. At 1M 20-byte serials the table is ~30 MB.
 *
 * Keys are the serial keys of ./serial.ts (upper-case hex magnitude, no leading zeros).
 *
 * Pure module: no LoopBack imports.
 */
import {AppError} from '../../errors';
import {normalizeSerial, serialKeyOfDerInteger} from './serial';

/** RFC 5280 §4.1.2.2: conforming serials are at most 20 octets. */
export const MAX_TABLE_SERIAL_BYTES = 20;
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

export class SerialSet {
  private readonly slotSize: number;
  /** Reused for lookups; has() is synchronous so sharing is safe. */
  private readonly scratch: Buffer;

  /** @internal use SerialSetBuilder / SerialSet.fromKeys / SerialSet.empty */
  constructor(
    private readonly table: Buffer,
    private readonly capacity: number,
    private readonly width: number,
    private readonly tableCount: number,
    private readonly overflow: ReadonlySet<string>,
  ) {
    this.slotSize = width + 1;
    this.scratch = Buffer.alloc(MAX_TABLE_SERIAL_BYTES);
  }

  static empty(): SerialSet {
    return new SerialSetBuilder(0, 1).build();
  }

  /** Build from serial keys or Node serialNumber strings (normalised here). */
  static fromKeys(keys: Iterable<string>): SerialSet {
    const normalised = [...new Set([...keys].map(k => normalizeSerial(k, 'CRL_INVALID')))];
    let width = 1;
    for (const k of normalised) if (!k.startsWith('-')) width = Math.max(width, Math.ceil(k.length / 2));
    const b = new SerialSetBuilder(normalised.length, Math.min(width, MAX_TABLE_SERIAL_BYTES));
    for (const k of normalised) b.addKey(k);
    return b.build();
  }

  /** Number of distinct serials. */
  get size(): number {
    return this.tableCount + this.overflow.size;
  }

  /** Bytes held by the backing storage (table + rough overflow estimate), for reporting. */
  get byteLength(): number {
    let o = 0;
    for (const k of this.overflow) o += 64 + k.length;
    return this.table.length + o;
  }

  /**
   * Membership by serial key. The key is normalised first (so "009F01" finds "9F01"); a key
   * that is not hexadecimal throws AppError AUTH_CERT_MALFORMED (never a silent "not revoked").
   */
  has(serialKey: string): boolean {
    const key = normalizeSerial(serialKey);
    if (key.charCodeAt(0) === 0x2d /* - */) return this.overflow.has(key);
    const len = key === '0' ? 0 : (key.length + 1) >> 1;
    if (len > MAX_TABLE_SERIAL_BYTES) return this.overflow.has(key);
    if (len > this.width || this.tableCount === 0) return false;
    decodeKey(key, this.scratch);
    return this.find(this.scratch, 0, len) >= 0;
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

/**
 * Incremental builder. `expectedTableCount` is an upper bound on the number of non-negative
 * serials of at most `maxMagnitudeBytes` (<= 20) bytes that will be added; it sizes the table.
 */
export class SerialSetBuilder {
  private readonly set: SerialSet;
  private readonly table: Buffer;
  private readonly capacity: number;
  private readonly width: number;
  private readonly slotSize: number;
  private readonly overflow = new Set<string>();
  private readonly scratch = Buffer.alloc(MAX_TABLE_SERIAL_BYTES);
  private readonly limit: number;
  private count = 0;
  private built = false;

  /**
   * @param zeroFilled false leaves the table uninitialised: the caller must run zeroFill()
   *   before adding (lets a large table be zeroed, i.e. its pages faulted in, in slices).
   */
  constructor(expectedTableCount: number, maxMagnitudeBytes: number, zeroFilled = true) {
    if (!Number.isSafeInteger(expectedTableCount) || expectedTableCount < 0) {
      throw new AppError('INTERNAL_ERROR', 'invalid SerialSet size');
    }
    this.width = Math.max(1, Math.min(MAX_TABLE_SERIAL_BYTES, maxMagnitudeBytes | 0));
    this.slotSize = this.width + 1;
    this.capacity = Math.max(8, Math.ceil(expectedTableCount / MAX_LOAD) + 1);
    this.limit = expectedTableCount;
    this.table = zeroFilled ? Buffer.alloc(this.capacity * this.slotSize) : Buffer.allocUnsafeSlow(this.capacity * this.slotSize);
    this.ready = zeroFilled;
    this.set = new SerialSet(this.table, this.capacity, this.width, 0, this.overflow);
  }

  private ready: boolean;

  /**
   * Zero the table in `sliceBytes` slices, awaiting `between()` after each. Writing the table
   * sequentially first means the random-order inserts that follow hit resident pages, so no
   * insert slice pays for a burst of page faults.
   */
  async zeroFill(sliceBytes: number, between: () => Promise<void>): Promise<void> {
    const t = this.table;
    for (let o = 0; o < t.length; o += sliceBytes) {
      t.fill(0, o, Math.min(t.length, o + sliceBytes));
      await between();
    }
    this.ready = true;
  }

  /** Add the serial whose DER INTEGER content is buf[start, end) (minimal encoding assumed). */
  addDerInteger(buf: Uint8Array, start: number, end: number): void {
    if (end <= start) throw new AppError('CRL_INVALID', 'serial number is empty');
    if ((buf[start] & 0x80) !== 0) {
      this.overflow.add(serialKeyOfDerInteger(buf, start, end));
      return;
    }
    let s = start;
    while (s < end && buf[s] === 0) s++;
    const len = end - s;
    if (len > MAX_TABLE_SERIAL_BYTES) {
      this.overflow.add(serialKeyOfDerInteger(buf, start, end));
      return;
    }
    this.insert(buf, s, end);
  }

  /** Add a normalised serial key. */
  addKey(key: string): void {
    if (key.startsWith('-') || key.length > 2 * MAX_TABLE_SERIAL_BYTES) {
      this.overflow.add(key);
      return;
    }
    const n = decodeKey(key, this.scratch);
    this.insert(this.scratch, 0, n);
  }

  private insert(m: Uint8Array, start: number, end: number): void {
    if (!this.ready) throw new AppError('INTERNAL_ERROR', 'SerialSetBuilder.zeroFill() was not awaited');
    const len = end - start;
    if (len > this.width) throw new AppError('INTERNAL_ERROR', 'serial wider than the SerialSet slots');
    const r = this.set.find(m, start, end);
    if (r >= 0) return; // duplicate
    if (r === -1 || this.count >= this.limit) throw new AppError('INTERNAL_ERROR', 'SerialSet capacity exceeded');
    const idx = -2 - r;
    const off = idx * this.slotSize;
    this.table[off] = 1;
    const base = off + 1 + this.width - len;
    for (let i = 0; i < len; i++) this.table[base + i] = m[start + i];
    this.count++;
  }

  build(): SerialSet {
    if (this.built) throw new AppError('INTERNAL_ERROR', 'SerialSetBuilder.build() called twice');
    this.built = true;
    return new SerialSet(this.table, this.capacity, this.width, this.count, this.overflow);
  }
}
