/**
 * A conservative pre-filter for inspectValue(): one regular-expression scan that proves a string
 * cannot produce any finding, so that the full normalisation (decodeText, tokens, pathShape,
 * rule matching) is skipped for the plain words, names and numbers that make up most JSON bodies.
 *
 * WHY IT IS CONSERVATIVE. A string passes (is "inert") only when it is printable ASCII (plus tab,
 * LF and CR outside strict/query mode) with none of `/ \ % . : ~ ; & @` and no keyword below. For
 * such a string:
 *  - decodeText() produces exactly one form (no `%`: nothing decodes; ASCII: NFKC and the
 *    confusables fold change nothing, lower-casing is idempotent), and flags nothing (NUL, control
 *    characters and lone surrogates are outside the admitted alphabet; `%` is needed for
 *    bad-escape, %u, overlong, invalid UTF-8 and too-deep);
 *  - every token is a single relative path segment (no `/` or `\`), so traversal rules (need `/`),
 *    `root`-anchored segment rules (need a leading `/`) and multi-segment rules (need a `/`) cannot
 *    fire, and url-scheme / url-host rules (need `scheme:`) cannot either;
 *  - what is left are the single-segment `anywhere` rules. compilePrefilter() classifies each of
 *    them from the catalog: a literal alternation contributes its words as keywords (a token can
 *    only match by *being* one, so a case-insensitive substring search over-approximates), and a
 *    pattern with a mandatory literal `\.` cannot match a segment without `.`. A rule it cannot
 *    classify disables the pre-filter (every value then gets the full inspection: slower, never
 *    weaker); a unit test asserts the shipped catalog is fully classified.
 * json-key rules are applied by the body walker before inspectValue(), independently of this.
 * A fast-check property compares the pre-filtered and the full inspection on generated strings
 * built from every rule keyword, separator and encoding.
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import type {GuardRule, SegmentsMatcher} from './rules';

export interface Prefilter {
  /** Words whose presence (case-insensitively, anywhere) sends a value to the full inspection. */
  readonly keywords: readonly string[];
  /** Values that may be inert when inspected with `strict: false` (body, header, param). */
  readonly lenient: RegExp;
  /** Values that may be inert when inspected with `strict: true` (query, form). */
  readonly strict: RegExp;
}

/** Characters that can start a decoding, a path, a URL or a delimiter-sensitive construct. */
const SUSPICIOUS_CHARS = String.raw`\/\\%.:~;&@`;

const LITERAL_DOT = '\u0001';
const OTHER_ESCAPE = '\u0002';

/** `(?:a|b|c)` or `word` made only of literal lower-case words: the words; else null. */
export function literalAlternatives(src: string): string[] | null {
  const inner = /^\(\?:([^()]*)\)$/.exec(src)?.[1] ?? src;
  if (/[()]/.test(inner)) return null;
  const alts = inner.split('|');
  return alts.every(a => /^[a-z0-9_-]+$/.test(a)) ? alts : null;
}

/**
 * The pattern with every escape reduced to one character (LITERAL_DOT for `\.`, OTHER_ESCAPE for
 * the rest) and every character class to the opaque atom `C` (a `\.` inside a class is not a
 * required dot). Null when a class is unterminated.
 */
function atoms(src: string): string | null {
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      out += src[i + 1] === '.' ? LITERAL_DOT : OTHER_ESCAPE;
      i++;
    } else if (c === '[') {
      let j = i + 1;
      while (j < src.length && src[j] !== ']') j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) return null;
      out += 'C';
      i = j;
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * Does every string matched by the (anchored, whole-segment) pattern contain a literal `.`?
 * Decided syntactically and conservatively: after dropping character classes and optional groups
 * and collapsing mandatory groups, the top level must be a single alternative containing `\.`
 * that is not itself quantified as optional. Anything unusual (lookarounds, backreferences,
 * top-level alternation) answers false.
 */
export function requiresLiteralDot(src: string): boolean {
  if (/\(\?[^:]/.test(src) || /\\[1-9kpPu]/.test(src)) return false;
  const flat = atoms(src);
  if (flat === null) return false;
  let s: string = flat;
  for (;;) {
    const next: string = s
      // optional groups vanish: `( ... )?`, `( ... )*`, `( ... ){0,n}`
      .replace(/\((?:\?:)?[^()]*\)(?:\?|\*|\{0(?:,\d*)?\})\??/g, '')
      // mandatory groups become an opaque atom
      .replace(/\((?:\?:)?[^()]*\)/g, 'G');
    if (next === s) break;
    s = next;
  }
  if (/[()|]/.test(s)) return false;
  return new RegExp(`${LITERAL_DOT}(?![?*]|\\{0)`).test(s);
}

/**
 * Classify the catalog (see the header comment). Returns null when some rule cannot be proven
 * unable to match an inert string: the caller must then inspect every value in full.
 */
export function compilePrefilter(rules: readonly GuardRule[]): Prefilter | null {
  const keywords = new Set<string>();
  for (const rule of rules) {
    const m = rule.match;
    if (m.kind !== 'segments') continue; // traversal: needs `/`; url-*: needs `:`; json-key: applied elsewhere
    const seg = m as SegmentsMatcher;
    if (seg.anchor === 'root' || seg.segments.length !== 1) continue; // needs a `/`
    const src = seg.segments[0];
    const words = literalAlternatives(src);
    if (words) words.forEach(w => keywords.add(w));
    else if (!requiresLiteralDot(src)) return null;
  }
  const kw = [...keywords].sort();
  const alternation = kw.length > 0 ? `|${kw.join('|')}` : '';
  return {
    keywords: kw,
    lenient: new RegExp(`[^\\t\\n\\r\\x20-\\x7e]|[${SUSPICIOUS_CHARS}]${alternation}`, 'i'),
    strict: new RegExp(`[^\\x20-\\x7e]|[${SUSPICIOUS_CHARS}]${alternation}`, 'i'),
  };
}

/** True when the value provably yields no finding under `pf` (strict = query/form decoding rules). */
export function isInert(pf: Prefilter, value: string, strict: boolean): boolean {
  return !(strict ? pf.strict : pf.lenient).test(value);
}
