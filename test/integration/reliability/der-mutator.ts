/**
 * A seeded, DER-aware mutator for fuzzing the parsers of certificate material (CRLs,
 * certificates, OCSP responses). Deterministic: the same seed yields the same inputs, so a
 * failure prints its seed and index and can be replayed.
 *
 * Mutations know the TLV structure of the seed input: besides byte flips, insertions,
 * deletions and truncations, they rewrite tags, lengths (short, long form, indefinite, huge,
 * off by one), duplicate, drop, swap and nest TLVs, splice TLVs from another input and fill
 * contents with random bytes, often several at once.
 */

/** xorshift128+ seeded generator (fast, reproducible; not for cryptography). */
export class Rng {
  private s0: bigint;
  private s1: bigint;
  constructor(seed: number) {
    let z = BigInt(seed >>> 0) + 0x9e3779b97f4a7c15n;
    const mix = () => {
      z = (z + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
      let x = z;
      x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
      x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
      return x ^ (x >> 31n);
    };
    this.s0 = mix();
    this.s1 = mix();
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    let x = this.s0;
    const y = this.s1;
    this.s0 = y;
    x ^= (x << 23n) & 0xffffffffffffffffn;
    this.s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    const r = Number((this.s1 + y) & 0xffffffffn);
    return n <= 0 ? 0 : r % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** One TLV of a DER buffer: offsets of its header and content. */
export interface Tlv {
  start: number;
  headerLength: number;
  length: number;
  end: number;
  constructed: boolean;
}

/** Every TLV reachable from offset 0 (depth-first), tolerant of malformed input. */
export function tlvs(der: Buffer, max = 20_000): Tlv[] {
  const out: Tlv[] = [];
  const walk = (off: number, limit: number, depth: number) => {
    while (off < limit && out.length < max && depth < 64) {
      const tag = der[off];
      let p = off + 1;
      if ((tag & 0x1f) === 0x1f) {
        while (p < limit && der[p] & 0x80) p++;
        p++;
      }
      if (p >= limit) return;
      let len = der[p++];
      if (len & 0x80) {
        const n = len & 0x7f;
        if (n === 0 || n > 4 || p + n > limit) return;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + der[p++];
      }
      const end = p + len;
      if (end > limit) return;
      const t: Tlv = {start: off, headerLength: p - off, length: len, end, constructed: (tag & 0x20) !== 0};
      out.push(t);
      if (t.constructed) walk(p, end, depth + 1);
      else if (tag === 0x04 || tag === 0x03) {
        // OCTET/BIT STRINGs often wrap DER (extensions, signatures of nested structures).
        const inner = tag === 0x03 ? p + 1 : p;
        if (inner < end && (der[inner] === 0x30 || der[inner] === 0x31)) walk(inner, end, depth + 1);
      }
      off = end;
    }
  };
  walk(0, der.length, 0);
  return out;
}

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function withHeader(der: Buffer, t: Tlv, header: Buffer): Buffer {
  return Buffer.concat([der.subarray(0, t.start), header, der.subarray(t.start + t.headerLength)]);
}

type Mutation = (der: Buffer, rng: Rng, donors: readonly Buffer[]) => Buffer;

const MUTATIONS: Record<string, Mutation> = {
  flipBit: (d, r) => {
    const b = Buffer.from(d);
    if (b.length) b[r.int(b.length)] ^= 1 << r.int(8);
    return b;
  },
  setByte: (d, r) => {
    const b = Buffer.from(d);
    if (b.length) b[r.int(b.length)] = r.pick([0x00, 0x01, 0x7f, 0x80, 0x81, 0xff, r.int(256)]);
    return b;
  },
  insertBytes: (d, r) => {
    const at = r.int(d.length + 1);
    return Buffer.concat([d.subarray(0, at), r.bytes(1 + r.int(8)), d.subarray(at)]);
  },
  deleteBytes: (d, r) => {
    const at = r.int(d.length + 1);
    return Buffer.concat([d.subarray(0, at), d.subarray(Math.min(d.length, at + 1 + r.int(8)))]);
  },
  truncate: (d, r) => d.subarray(0, r.int(d.length)),
  appendGarbage: (d, r) => Buffer.concat([d, r.bytes(1 + r.int(16))]),
  retag: (d, r) => {
    const ts = tlvs(d);
    if (!ts.length) return d;
    const t = r.pick(ts);
    const b = Buffer.from(d);
    b[t.start] = r.pick([
      0x00,
      0x01,
      0x02,
      0x03,
      0x04,
      0x05,
      0x06,
      0x0c,
      0x13,
      0x17,
      0x18,
      0x1f,
      0x30,
      0x31,
      0xa0,
      0xa3,
      0x80,
      0xff,
      b[t.start] ^ 0x20,
      r.int(256),
    ]);
    return b;
  },
  relength: (d, r) => {
    const ts = tlvs(d);
    if (!ts.length) return d;
    const t = r.pick(ts);
    let tagLen = 1;
    if ((d[t.start] & 0x1f) === 0x1f) {
      while (d[t.start + tagLen] & 0x80) tagLen++;
      tagLen++;
    }
    const tagBytes = d.subarray(t.start, t.start + tagLen);
    const choice = r.int(8);
    let len: Buffer;
    if (choice === 0)
      len = Buffer.from([0x80]); // indefinite (BER only)
    else if (choice === 1)
      len = Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]); // huge
    else if (choice === 2)
      len = Buffer.from([0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]); // longer than any length field
    else if (choice === 3)
      len = Buffer.concat([Buffer.from([0x82]), Buffer.from([0, t.length & 0xff])]); // non-minimal
    else if (choice === 4) len = encodeLength(t.length + 1 + r.int(3));
    else if (choice === 5) len = encodeLength(Math.max(0, t.length - 1 - r.int(3)));
    else if (choice === 6) len = Buffer.from([0x00]);
    else len = encodeLength(r.int(1 << 16));
    return withHeader(d, t, Buffer.concat([tagBytes, len]));
  },
  duplicateTlv: (d, r) => {
    const ts = tlvs(d);
    if (!ts.length) return d;
    const t = r.pick(ts);
    return Buffer.concat([d.subarray(0, t.end), d.subarray(t.start, t.end), d.subarray(t.end)]);
  },
  dropTlv: (d, r) => {
    const ts = tlvs(d).filter(t => t.start > 0);
    if (!ts.length) return d;
    const t = r.pick(ts);
    return Buffer.concat([d.subarray(0, t.start), d.subarray(t.end)]);
  },
  swapTlvs: (d, r) => {
    const ts = tlvs(d);
    if (ts.length < 2) return d;
    let a = r.pick(ts);
    let b = r.pick(ts);
    if (a.start > b.start) [a, b] = [b, a];
    if (a.end > b.start) return d; // nested or equal
    return Buffer.concat([
      d.subarray(0, a.start),
      d.subarray(b.start, b.end),
      d.subarray(a.end, b.start),
      d.subarray(a.start, a.end),
      d.subarray(b.end),
    ]);
  },
  nestTlv: (d, r) => {
    const ts = tlvs(d);
    if (!ts.length) return d;
    const t = r.pick(ts);
    const inner = d.subarray(t.start, t.end);
    const wrapped = Buffer.concat([Buffer.from([r.pick([0x30, 0x31, 0x04, 0xa0])]), encodeLength(inner.length), inner]);
    return Buffer.concat([d.subarray(0, t.start), wrapped, d.subarray(t.end)]);
  },
  randomContent: (d, r) => {
    const ts = tlvs(d).filter(t => !t.constructed);
    if (!ts.length) return d;
    const t = r.pick(ts);
    return Buffer.concat([d.subarray(0, t.start + t.headerLength), r.bytes(t.length), d.subarray(t.end)]);
  },
  zeroLengthContent: (d, r) => {
    const ts = tlvs(d);
    if (!ts.length) return d;
    const t = r.pick(ts);
    return Buffer.concat([d.subarray(0, t.start), d.subarray(t.start, t.start + 1), Buffer.from([0]), d.subarray(t.end)]);
  },
  spliceDonor: (d, r, donors) => {
    if (!donors.length) return d;
    const donor = r.pick(donors);
    const dts = tlvs(donor);
    const ts = tlvs(d);
    if (!dts.length || !ts.length) return d;
    const from = r.pick(dts);
    const t = r.pick(ts);
    return Buffer.concat([d.subarray(0, t.start), donor.subarray(from.start, from.end), d.subarray(t.end)]);
  },
};

export const MUTATION_NAMES = Object.keys(MUTATIONS);

export interface MutatedInput {
  bytes: Buffer;
  /** The mutations applied, in order (for the failure message). */
  ops: string[];
  seedIndex: number;
}

/**
 * The i-th input of a fuzz campaign: pick a seed, apply 1-4 mutations. Deterministic in
 * (seed, i): `new DerMutator(seeds, seed).input(i)` replays one case.
 */
export class DerMutator {
  constructor(
    private readonly seeds: readonly Buffer[],
    private readonly seed: number,
    private readonly donors: readonly Buffer[] = seeds,
  ) {
    if (seeds.length === 0) throw new Error('no seed inputs');
  }

  input(i: number): MutatedInput {
    const rng = new Rng((this.seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
    const seedIndex = rng.int(this.seeds.length);
    let bytes = this.seeds[seedIndex];
    const ops: string[] = [];
    const n = 1 + rng.int(4);
    for (let k = 0; k < n; k++) {
      const name = rng.pick(MUTATION_NAMES);
      bytes = MUTATIONS[name](bytes, rng, this.donors);
      ops.push(name);
    }
    return {bytes, ops, seedIndex};
  }
}

/** Wrap DER in PEM armour with the given label, optionally with hostile whitespace. */
export function toPem(der: Buffer, label: string, rng?: Rng): Buffer {
  const b64 = der.toString('base64');
  const lines: string[] = [];
  const width = rng ? 1 + rng.int(80) : 64;
  for (let i = 0; i < b64.length; i += width) lines.push(b64.slice(i, i + width));
  const sep = rng ? rng.pick(['\n', '\r\n', ' \n', '\n\n']) : '\n';
  return Buffer.from(`-----BEGIN ${label}-----${sep}${lines.join(sep)}${sep}-----END ${label}-----\n`, 'latin1');
}

/** Campaign size: FUZZ_RUNS (never below the floor the CI requires) and FUZZ_SEED. */
export function fuzzSettings(floor = 10_000): {runs: number; seed: number} {
  const runs = Math.max(floor, Number(process.env.FUZZ_RUNS ?? floor) || floor);
  const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : 0x5eed2026;
  return {runs, seed};
}
