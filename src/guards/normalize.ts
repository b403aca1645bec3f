/**
 * Input normaliser for the request guard. Attackers rely on the guard and the component behind
 * it decoding differently; so the guard decodes *more* than anything behind it would, and matches
 * every intermediate form:
 *
 *  1. percent-decoding, repeated until stable (bounded: more rounds => malformed 'too-deep'),
 *     bytes decoded as UTF-8 — overlong forms (%c0%ae, %c0%af, %e0%80%ae) are decoded to what a
 *     lenient decoder would make of them *and* flagged malformed;
 *  2. IIS-style %uXXXX escapes;
 *  3. Unicode NFKC (fullwidth ．／, ﹒, ‥ ...) plus a small confusables fold for characters NFKC
 *     leaves alone (∕ U+2215, ⁄ U+2044, ⧸, 。 ...);
 *  4. lower case; backslash => slash.
 * Path shaping then drops `;params`, empty (duplicate-slash) and `.` segments and resolves `..`.
 *
 * Nothing here throws on any string input (property-tested). Malformed input is reported, not
 * thrown: the caller turns it into GUARD_MALFORMED_INPUT (400) unless a rule matched, in which case
 * the denied reference (403) is reported instead.
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import type {MalformedReason} from './rules';

export interface DecodeOptions {
  /**
   * Request-target rules (RFC 3986): a `%` not followed by two hex digits, a %u escape or a
   * control character after decoding is malformed. Values (headers, bodies) allow a bare `%`
   * ("50% off") and line breaks/tabs.
   */
  strict: boolean;
  /** application/x-www-form-urlencoded: `+` is a space (applied once, before decoding). */
  plusAsSpace?: boolean;
  /** Decoding rounds before the input counts as too deeply encoded (default 6). */
  maxRounds?: number;
}

export interface DecodeResult {
  /**
   * Every distinct folded form, from the input itself (round 0) to the stable form (last).
   * Folded = NFKC + confusables + lower case + `\` => `/`; NUL removed (and flagged).
   */
  forms: string[];
  /** The first reason the input is not cleanly decodable, or null. */
  malformed: MalformedReason | null;
}

export const DEFAULT_MAX_ROUNDS = 6;

/** Characters NFKC does not map but that render as, or are treated by some stacks as, `/` `\` `.`. */
const CONFUSABLES: Readonly<Record<string, string>> = {
  '\u2215': '/', // ∕ DIVISION SLASH
  '\u2044': '/', // ⁄ FRACTION SLASH
  '\u29f8': '/', // ⧸ BIG SOLIDUS
  '\u2571': '/', // ╱ BOX DRAWINGS LIGHT DIAGONAL
  '\u29f9': '\\', // ⧹ BIG REVERSE SOLIDUS
  '\u2572': '\\', // ╲
  '\u2216': '\\', // ∖ SET MINUS
  '\u3002': '.', // 。 IDEOGRAPHIC FULL STOP (WHATWG host parsing treats it as a dot)
};
const CONFUSABLE_RE = /[\u2215\u2044\u29f8\u2571\u29f9\u2572\u2216\u3002]/g;

// eslint-disable-next-line no-control-regex
const ASCII_ONLY = /^[\u0000-\u007f]*$/;

/** NFKC, confusables, lower case, backslash to slash. Total (never throws). */
export function fold(s: string): string {
  // ASCII is NFKC-stable and has no confusables: only case and backslashes change.
  if (ASCII_ONLY.test(s)) {
    const lower = s.toLowerCase();
    return lower.includes('\\') ? lower.replace(/\\/g, '/') : lower;
  }
  let out = s
    .normalize('NFKC')
    .replace(CONFUSABLE_RE, c => CONFUSABLES[c] ?? c)
    .toLowerCase();
  // Lower-casing can produce non-NFKC sequences (rare, e.g. U+0130); one more pass settles it.
  out = out.normalize('NFKC').replace(CONFUSABLE_RE, c => CONFUSABLES[c] ?? c);
  return out.replace(/\\/g, '/');
}

interface RoundFlags {
  malformed: MalformedReason | null;
}

function flag(f: RoundFlags, r: MalformedReason): void {
  if (f.malformed === null) f.malformed = r;
}

/**
 * Decode a run of bytes as UTF-8. Overlong encodings are decoded (as a lenient decoder would) and
 * flagged; invalid bytes are left as their `%XX` text and flagged.
 */
function decodeUtf8Run(bytes: number[], f: RoundFlags): string {
  let out = '';
  let i = 0;
  const pct = (b: number) => '%' + b.toString(16).toUpperCase().padStart(2, '0');
  const cont = (k: number) => k < bytes.length && (bytes[k] & 0xc0) === 0x80;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i += 1;
    } else if (b >= 0xc0 && b <= 0xdf && cont(i + 1)) {
      const cp = ((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
      if (b < 0xc2) flag(f, 'overlong-utf8');
      out += String.fromCharCode(cp);
      i += 2;
    } else if (b >= 0xe0 && b <= 0xef && cont(i + 1) && cont(i + 2)) {
      const cp = ((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
      if (cp < 0x800) flag(f, 'overlong-utf8');
      if (cp >= 0xd800 && cp <= 0xdfff) {
        flag(f, 'invalid-utf8');
        out += pct(b) + pct(bytes[i + 1]) + pct(bytes[i + 2]);
      } else {
        out += String.fromCharCode(cp);
      }
      i += 3;
    } else if (b >= 0xf0 && b <= 0xf7 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      const cp = ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
      if (cp < 0x10000) flag(f, 'overlong-utf8');
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        flag(f, 'invalid-utf8');
        out += pct(b) + pct(bytes[i + 1]) + pct(bytes[i + 2]) + pct(bytes[i + 3]);
      } else {
        out += String.fromCodePoint(cp);
      }
      i += 4;
    } else {
      flag(f, 'invalid-utf8');
      out += pct(b);
      i += 1;
    }
  }
  return out;
}

/** Value of one hex digit (a char code), or -1. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/** The byte written as two hex digits at s[i], s[i+1], or -1 (also past the end). */
function hexByte(s: string, i: number): number {
  if (i + 1 >= s.length) return -1;
  const hi = hexDigit(s.charCodeAt(i));
  const lo = hi < 0 ? -1 : hexDigit(s.charCodeAt(i + 1));
  return lo < 0 ? -1 : (hi << 4) | lo;
}

/** The code unit written as four hex digits at s[i..i+3], or -1. */
function hexUnit(s: string, i: number): number {
  const hi = hexByte(s, i);
  const lo = hi < 0 ? -1 : hexByte(s, i + 2);
  return lo < 0 ? -1 : (hi << 8) | lo;
}

const PERCENT = 0x25;

/** Is s[i] a `u`/`U` after a `%`? */
function isU(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c === 0x75 || c === 0x55;
}

/** One round of %XX and %uXXXX decoding (linear in the input; no per-escape substrings). */
function percentRound(s: string, strict: boolean, f: RoundFlags): string {
  let i = s.indexOf('%');
  if (i === -1) return s;
  let out = '';
  let copied = 0;
  while (i !== -1) {
    if (hexByte(s, i + 1) >= 0) {
      out += s.slice(copied, i);
      const bytes: number[] = [];
      let b: number;
      while (i < s.length && s.charCodeAt(i) === PERCENT && (b = hexByte(s, i + 1)) >= 0) {
        bytes.push(b);
        i += 3;
      }
      out += decodeUtf8Run(bytes, f);
      copied = i;
    } else if (isU(s, i + 1) && hexUnit(s, i + 2) >= 0) {
      if (strict) flag(f, 'u-escape');
      out += s.slice(copied, i);
      let u: number;
      while (i < s.length && s.charCodeAt(i) === PERCENT && isU(s, i + 1) && (u = hexUnit(s, i + 2)) >= 0) {
        out += String.fromCharCode(u);
        i += 6;
      }
      copied = i;
    } else {
      if (strict) flag(f, 'bad-escape');
      i += 1;
    }
    i = s.indexOf('%', i);
  }
  return out + s.slice(copied);
}

// eslint-disable-next-line no-control-regex
const STRICT_CONTROL = /[\u0001-\u001f\u007f]/;
// A lone surrogate: a high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Decode repeatedly until stable. Returns every distinct folded form. Total: never throws.
 */
export function decodeText(input: string, opts: DecodeOptions): DecodeResult {
  const f: RoundFlags = {malformed: null};
  const maxRounds = opts.maxRounds ?? DEFAULT_MAX_ROUNDS;
  // NUL is flagged and removed after every step, so that removing it can never assemble a new
  // escape after the last round (`%2%00e`) - canonical forms stay stable.
  const step = (s: string): string => {
    const folded = fold(s);
    if (!folded.includes('\u0000')) return folded;
    flag(f, 'nul');
    return folded.replaceAll('\u0000', '');
  };
  let cur = step(opts.plusAsSpace ? input.replace(/\+/g, ' ') : input);
  const forms = [cur];
  let stable = false;
  for (let round = 0; round < maxRounds; round++) {
    // Nothing left to decode in an ASCII form without `%`: percentRound is the identity and folding
    // an already folded ASCII string changes nothing, so the next form would equal this one.
    if (!cur.includes('%') && ASCII_ONLY.test(cur)) {
      stable = true;
      break;
    }
    const next = step(percentRound(cur, opts.strict, f));
    if (next === cur) {
      stable = true;
      break;
    }
    forms.push(next);
    cur = next;
  }
  if (!stable) {
    // One more look: if it still changes, the input is encoded deeper than we are willing to follow.
    const probe = {malformed: null} as RoundFlags;
    if (fold(percentRound(cur, opts.strict, probe)).replaceAll('\u0000', '') !== cur) flag(f, 'too-deep');
  }
  for (const form of forms) {
    if (opts.strict && STRICT_CONTROL.test(form)) flag(f, 'control-char');
    if (LONE_SURROGATE.test(form)) flag(f, 'lone-surrogate');
  }
  return {forms, malformed: f.malformed};
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const SEMICOLON = 0x3b;
const DOT = 0x2e;

export interface PathShape {
  /** Starts with `/` (after folding). */
  readonly absolute: boolean;
  /** Contains a `/` at all (after folding): only path-like values get the traversal rules. */
  readonly pathLike: boolean;
  /** Segments without empty and `.` segments, `;params` removed and NUL stripped; `..` kept. */
  readonly raw: readonly string[];
  /** Dot segments applied; a `..` above the start is dropped (clamped) and recorded in `escapes`. */
  readonly resolved: readonly string[];
  readonly dotDot: boolean;
  readonly escapes: boolean;
  /** A segment of three or more dots only. */
  readonly dotsOnly: boolean;
}

/** Split a folded form into path segments. Total (never throws). One pass, no intermediate arrays. */
export function pathShape(form: string): PathShape {
  const n = form.length;
  const first = n > 0 ? form.charCodeAt(0) : 0;
  const absolute = first === SLASH || first === BACKSLASH;
  const raw: string[] = [];
  // Until the first `..`, the resolved segments are the raw ones (one array serves both).
  let resolved: string[] | null = null;
  let pathLike = false;
  let escapes = false;
  let dotsOnly = false;
  let start = 0;
  let semi = -1;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? form.charCodeAt(i) : SLASH;
    if (c === SEMICOLON) {
      if (semi === -1) semi = i;
      continue;
    }
    if (c !== SLASH && c !== BACKSLASH) continue;
    if (i < n) pathLike = true;
    // The segment is form[start, i), cut at its first `;` (path parameters dropped).
    let seg = form.slice(start, semi === -1 ? i : semi);
    start = i + 1;
    semi = -1;
    if (seg.includes('\u0000')) seg = seg.replaceAll('\u0000', '');
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (resolved === null) resolved = raw.slice();
      raw.push(seg);
      if (resolved.length === 0) escapes = true;
      else resolved.pop();
      continue;
    }
    raw.push(seg);
    if (resolved !== null) resolved.push(seg);
    if (!dotsOnly && seg.length >= 3 && seg.charCodeAt(0) === DOT && /^\.{3,}$/.test(seg)) dotsOnly = true;
  }
  return {absolute, pathLike, raw, resolved: resolved ?? raw, dotDot: resolved !== null, escapes, dotsOnly};
}

/**
 * The canonical form of a path-like input: fully decoded, folded, NUL removed, segments shaped,
 * dot segments resolved (a `..` that climbs above a relative start is kept in front).
 * Idempotent: canonicalPath(canonicalPath(x)) === canonicalPath(x) (property-tested).
 */
export function canonicalPath(input: string, opts: DecodeOptions = {strict: true}): string {
  const {forms} = decodeText(input, opts);
  const s = forms[forms.length - 1];
  const absolute = s.startsWith('/');
  const out: string[] = [];
  let climbs = 0;
  for (const part of s.split('/')) {
    const seg = part.split(';')[0];
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0) out.pop();
      else if (!absolute) climbs += 1;
      continue;
    }
    out.push(seg);
  }
  const body = [...Array<string>(climbs).fill('..'), ...out].join('/');
  return absolute ? '/' + body : body;
}

export interface RequestTargetParts {
  /** 'origin' = /path?query; 'absolute' = scheme://authority/path?query; 'asterisk' = `*`. */
  readonly form: 'origin' | 'absolute' | 'asterisk';
  /** Raw (still encoded) path. */
  readonly path: string;
  /** Raw query without the `?`, or null. */
  readonly query: string | null;
  /** For absolute-form: the scheme and authority as sent. */
  readonly scheme?: string;
  readonly authority?: string;
}

/**
 * Split a raw HTTP request-target (RFC 9112 §3.2) without decoding anything. Returns null when it
 * is none of origin-form, absolute-form or asterisk-form (e.g. `x`, or authority-form outside CONNECT).
 */
export function splitRequestTarget(raw: string): RequestTargetParts | null {
  if (raw === '*') return {form: 'asterisk', path: '*', query: null};
  const cut = (s: string) => {
    const hash = s.indexOf('#');
    const noFrag = hash === -1 ? s : s.slice(0, hash);
    const q = noFrag.indexOf('?');
    return q === -1 ? {path: noFrag, query: null} : {path: noFrag.slice(0, q), query: noFrag.slice(q + 1)};
  };
  if (raw.startsWith('/')) return {form: 'origin', ...cut(raw)};
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(raw);
  if (m) {
    const rest = cut(m[3]);
    return {form: 'absolute', scheme: m[1].toLowerCase(), authority: m[2], path: rest.path === '' ? '/' : rest.path, query: rest.query};
  }
  return null;
}

/** Split a query string or a form body into [name, value] pairs (still encoded). */
export function splitPairs(query: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (query === '') return out;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    out.push(eq === -1 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)]);
  }
  return out;
}

const TOKEN_DELIMITER = /[\s"'<>`{}|^,;=&()]/;

/**
 * Break a folded value into the strings worth matching: its whitespace-separated words (or the
 * whole value when it has none) and the pieces between common delimiters (`=`, `&`, `;`, `,`, quotes, brackets, ...).
 * Pieces of a path keep their slashes. Bounded by the value length.
 */
export function tokens(form: string): string[] {
  // Most tokens of real values have neither whitespace nor a delimiter: the value is its only token.
  if (!TOKEN_DELIMITER.test(form)) return form === '' ? [] : [form];
  const set = new Set<string>();
  const add = (t: string) => {
    if (t !== '') set.add(t);
  };
  const words = form.split(/\s+/);
  // With whitespace present, the whole value adds nothing its words do not (and costs a full pass).
  if (words.length <= 1) add(form);
  for (const w of words) add(w);
  for (const w of form.split(/[\s"'<>`{}|^,;=&()]+/)) add(w);
  return [...set];
}
