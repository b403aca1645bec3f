/**
 * The request guard's decision: does this request refer to a host or container-management
 * resource (403 GUARD_DENIED_REFERENCE), can it not be decoded safely (400 GUARD_MALFORMED_INPUT),
 * or may it proceed? Interprets the rule catalog (rules.ts) over the normaliser's output
 * (normalize.ts).
 *
 * What is inspected: the raw request target (path, and every query name and value), every header
 * value, and JSON / form / text bodies (every key and every string value, bounded depth and size;
 * duplicate keys and `__proto__`/`constructor`/`prototype` keys refused). Other body types are
 * refused (415): the guard fails closed on what it cannot read.
 *
 * A denied reference wins over malformed input: when both occur, the 403 is reported (it names a
 * rule). Locations are `path`, `query:NAME`, `header:NAME`, `body:/json/pointer`; names and keys
 * that are not plain identifiers are replaced by their index (`#2`) so that no payload is echoed
 * into logs.
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import type {ErrorCode} from '../errors';
import {classifyAddress} from '../outbound/ip-policy';
import {PROTOTYPE_KEYS, safePointerToken, scanJson} from './json-scan';
import {DEFAULT_MAX_ROUNDS, PathShape, decodeText, pathShape, splitPairs, splitRequestTarget, tokens} from './normalize';
import {compilePrefilter, isInert, Prefilter} from './prefilter';
import {
  GUARD_RULES,
  GuardRule,
  JsonKeyMatcher,
  MALFORMED_RULE_IDS,
  MalformedReason,
  SegmentsMatcher,
  UrlHostMatcher,
  UrlSchemeMatcher,
} from './rules';

export type GuardCode = Extract<
  ErrorCode,
  'GUARD_MALFORMED_INPUT' | 'GUARD_DENIED_REFERENCE' | 'GUARD_BODY_TOO_LARGE' | 'GUARD_UNSUPPORTED_MEDIA_TYPE'
>;

export interface InspectLimits {
  /** Percent-decoding rounds before input counts as too deeply encoded. */
  readonly maxDecodeRounds: number;
  /** JSON nesting depth. */
  readonly maxDepth: number;
  /** JSON values (objects, arrays, scalars) in one body. */
  readonly maxNodes: number;
  /** Characters of one request target. */
  readonly maxTargetLength: number;
  /** Characters of one header value, query value or body string. */
  readonly maxValueLength: number;
  /** Query parameters, form fields and headers, each. */
  readonly maxFields: number;
}

export const DEFAULT_INSPECT_LIMITS: InspectLimits = Object.freeze({
  maxDecodeRounds: DEFAULT_MAX_ROUNDS,
  maxDepth: 32,
  maxNodes: 200_000,
  maxTargetLength: 16_384,
  maxValueLength: 1_048_576,
  maxFields: 1000,
});

export interface RequestInput {
  /** The request-target exactly as received (Node's req.url before any framework touches it). */
  readonly rawTarget: string;
  /** Header pairs as received (Node's rawHeaders; values latin1-decoded by Node). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** The body, already decoded as UTF-8 (see decodeBodyBytes). */
  readonly body?: {readonly contentType: string | undefined; readonly text: string};
}

export type BodyKind = 'json' | 'form' | 'text';

export type GuardVerdict =
  | {readonly ok: true; readonly body?: {readonly kind: BodyKind; readonly value: unknown}}
  | {readonly ok: false; readonly code: GuardCode; readonly ruleId: string; readonly location: string};

/** Where a value sits: decides strictness and which rules apply. */
type ValueKind = 'query' | 'header' | 'body' | 'param' | 'segment';

interface Finding {
  readonly code: 'GUARD_DENIED_REFERENCE' | 'GUARD_MALFORMED_INPUT';
  readonly ruleId: string;
}

// --- compiled catalog -----------------------------------------------------------------------

interface CompiledSegments {
  /** Position in the catalog: lower wins. */
  readonly order: number;
  readonly rule: GuardRule;
  readonly m: SegmentsMatcher;
  readonly res: readonly RegExp[];
}

const SEGMENT_RULES: readonly CompiledSegments[] = GUARD_RULES.filter(r => r.match.kind === 'segments').map(rule => {
  const m = rule.match as SegmentsMatcher;
  return {order: GUARD_RULES.indexOf(rule), rule, m, res: m.segments.map(src => new RegExp(`^(?:${src})$`))};
});
const TRAVERSAL_ID = (mode: string): string => GUARD_RULES.find(r => r.match.kind === 'traversal' && r.match.mode === mode)!.id;
const PT_TARGET = TRAVERSAL_ID('dot-dot-in-target');
const PT_ESCAPE = TRAVERSAL_ID('escapes-start');
const PT_DOTS = TRAVERSAL_ID('dots-only-segment');
const SCHEME_RULES = GUARD_RULES.filter(r => r.match.kind === 'url-scheme') as ReadonlyArray<GuardRule & {match: UrlSchemeMatcher}>;
const HOST_RULES = GUARD_RULES.filter(r => r.match.kind === 'url-host') as ReadonlyArray<GuardRule & {match: UrlHostMatcher}>;
const KEY_RULES = GUARD_RULES.filter(r => r.match.kind === 'json-key') as ReadonlyArray<GuardRule & {match: JsonKeyMatcher}>;
/** json-key rules as one lookup: key => id of the first rule (catalog order) listing it. */
const KEY_RULE_OF: ReadonlyMap<string, string> = (() => {
  const m = new Map<string, string>();
  for (const r of KEY_RULES) for (const k of r.match.keys) if (!m.has(k)) m.set(k, r.id);
  return m;
})();
/** The conservative pre-filter (prefilter.ts); null = every value gets the full inspection. */
const PREFILTER: Prefilter | null = compilePrefilter(GUARD_RULES);

/** Is the value-inspection pre-filter active for the shipped catalog? (Asserted by a unit test.) */
export function prefilterActive(): boolean {
  return PREFILTER !== null;
}

function matchesAt(segs: readonly string[], at: number, res: readonly RegExp[], exact: boolean): boolean {
  if (at + res.length > segs.length) return false;
  if (exact && at + res.length !== segs.length) return false;
  for (let k = 0; k < res.length; k++) if (!res[k].test(segs[at + k])) return false;
  return true;
}

const ROOT_RULES = SEGMENT_RULES.filter(r => r.m.anchor === 'root');
const ANYWHERE_RULES = SEGMENT_RULES.filter(r => r.m.anchor === 'anywhere');
/** One pass over the segments finds the positions where an anywhere-rule can start. */
const ANYWHERE_FIRST = new RegExp(`^(?:${ANYWHERE_RULES.map(r => r.m.segments[0]).join('|')})$`);

/**
 * Segment rules over one shaped path. `target` = the request path (all scopes apply).
 * When several rules match, the one listed first in the catalog wins (the catalog lists the most
 * specific rules first: sockets, then APIs, then host paths).
 */
function matchSegmentRules(shape: PathShape, target: boolean): string | null {
  let best: CompiledSegments | null = matchSegmentList(shape.resolved, shape.absolute, target, null);
  // Without a `..` segment the resolved and raw segments are the same list: one pass suffices.
  if (shape.dotDot) best = matchSegmentList(shape.raw, shape.absolute, target, best);
  return best === null ? null : best.rule.id;
}

/** The best (first-listed) rule matching one segment list, or `best` when none is listed earlier. */
function matchSegmentList(segs: readonly string[], absolute: boolean, target: boolean, bestIn: CompiledSegments | null): CompiledSegments | null {
  let best = bestIn;
  if (absolute) {
    for (const c of ROOT_RULES) {
      if (c.m.scope === 'target' && !target) continue;
      if (matchesAt(segs, 0, c.res, c.m.exact === true)) {
        if (best === null || c.order < best.order) best = c;
        break;
      }
    }
  }
  for (let at = 0; at < segs.length; at++) {
    if (!ANYWHERE_FIRST.test(segs[at])) continue;
    for (const c of ANYWHERE_RULES) {
      if (best !== null && c.order >= best.order) break;
      if (c.m.scope === 'target' && !target) continue;
      if (matchesAt(segs, at, c.res, c.m.exact === true)) best = c;
    }
  }
  return best;
}

/** url-host rules: metadata names/addresses (any form), link-local, names embedding a metadata IP. */
export function metadataHostRule(hostIn: string): string | null {
  const host = hostIn
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (host === '') return null;
  for (const rule of HOST_RULES) {
    const m = rule.match;
    if (m.names.includes(host)) return rule.id;
    // A label sequence embedded in the name (`.label.` inside `.host.`) is also a substring of it.
    if (m.embeddedLabels.some(l => host.includes(l))) return rule.id;
    const info = classifyAddress(host);
    if (info) {
      const all = [info, ...(info.embedded ? [info.embedded] : [])];
      if (all.some(a => a.metadata || a.range === 'linkLocal' || m.addresses.includes(a.address))) return rule.id;
    }
  }
  return null;
}

const URLISH = /^([a-z][a-z0-9+.-]*):/;

/** Checks for a URL-looking token (already folded: lower case). */
function matchUrlRules(tok: string): string | null {
  const sm = URLISH.exec(tok);
  if (!sm) return null;
  const scheme = sm[1];
  if (tok.startsWith(`${scheme}:/`)) {
    for (const r of SCHEME_RULES) if (r.match.schemes.includes(scheme)) return r.id;
  }
  let url: URL;
  try {
    url = new URL(tok);
  } catch {
    return null;
  }
  const hostRule = metadataHostRule(url.hostname);
  if (hostRule) return hostRule;
  if (url.protocol === 'file:') {
    let p = url.pathname;
    try {
      p = decodeURIComponent(p);
    } catch {
      /* keep encoded */
    }
    return matchSegmentRules(pathShape(p), false);
  }
  return null;
}

/** Every check for one folded token of a value. */
function matchToken(tok: string): string | null {
  const shape = pathShape(tok);
  if (shape.pathLike) {
    if (shape.escapes) return PT_ESCAPE;
    if (shape.dotsOnly) return PT_DOTS;
  }
  if (shape.raw.length > 0) {
    const r = matchSegmentRules(shape, false);
    if (r) return r;
  }
  return matchUrlRules(tok);
}

function malformed(reason: MalformedReason): Finding {
  return {code: 'GUARD_MALFORMED_INPUT', ruleId: MALFORMED_RULE_IDS[reason]};
}

function denied(ruleId: string): Finding {
  return {code: 'GUARD_DENIED_REFERENCE', ruleId};
}

/**
 * Inspect one value (query/header/body string, or a parsed route argument). Never throws.
 * Returns the denial or malformed finding, or null when the value may pass.
 */
export function inspectValue(value: string, kind: ValueKind, limits: InspectLimits = DEFAULT_INSPECT_LIMITS): Finding | null {
  if (value.length > limits.maxValueLength) return malformed('too-long');
  if (PREFILTER !== null && isInert(PREFILTER, value, kind === 'query')) return null;
  return inspectValueFully(value, kind, limits);
}

/**
 * inspectValue() without the pre-filter: the full normalisation and rule matching. Exported for
 * the property test that proves the pre-filter conservative; callers use inspectValue().
 */
export function inspectValueFully(value: string, kind: ValueKind, limits: InspectLimits = DEFAULT_INSPECT_LIMITS): Finding | null {
  if (value.length > limits.maxValueLength) return malformed('too-long');
  const {forms, malformed: bad} = decodeText(value, {
    strict: kind === 'query' || kind === 'segment',
    plusAsSpace: kind === 'query',
    maxRounds: limits.maxDecodeRounds,
  });
  if (forms.length === 1) {
    // tokens() are distinct within one form.
    for (const tok of tokens(forms[0])) {
      const r = matchToken(tok);
      if (r) return denied(r);
    }
  } else {
    const seen = new Set<string>();
    for (const form of forms) {
      for (const tok of tokens(form)) {
        if (seen.has(tok)) continue;
        seen.add(tok);
        const r = matchToken(tok);
        if (r) return denied(r);
      }
    }
  }
  return bad ? malformed(bad) : null;
}

/**
 * Inspect the path of the request target. Never throws. The whole path is matched as a path;
 * then every segment that carries an escape (`%`, `\\`) is also inspected as a VALUE, because
 * a route's path parameter hands its decoded segment to the controller as one string
 * (`/products/%2Fv1.41%2Fcontainers%2Fcreate` is the parameter "/v1.41/containers/create").
 */
export function inspectTargetPath(rawPath: string, limits: InspectLimits = DEFAULT_INSPECT_LIMITS): Finding | null {
  const {forms, malformed: bad} = decodeText(rawPath, {strict: true, maxRounds: limits.maxDecodeRounds});
  for (const form of forms) {
    const shape = pathShape(form);
    if (shape.dotDot) return denied(PT_TARGET);
    if (shape.dotsOnly) return denied(PT_DOTS);
    const r = matchSegmentRules(shape, true);
    if (r) return denied(r);
  }
  for (const segment of rawPath.split('/')) {
    if (!segment.includes('%') && !segment.includes('\\')) continue;
    const f = inspectValue(segment, 'segment', limits);
    if (f && f.code === 'GUARD_DENIED_REFERENCE') return f;
  }
  return bad ? malformed(bad) : null;
}

/** A name/key that is safe to log, else its index. */
export function safeName(name: string, index: number): string {
  return /^[A-Za-z0-9_.\-[\]]{1,64}$/.test(name) ? name : `#${index}`;
}

class Collector {
  firstMalformed: {finding: Finding; location: string} | null = null;
  denial: {finding: Finding; location: string} | null = null;
  /** Returns true when scanning can stop (a denial was found). */
  add(f: Finding | null, location: string): boolean {
    if (!f) return false;
    if (f.code === 'GUARD_DENIED_REFERENCE') {
      this.denial = {finding: f, location};
      return true;
    }
    if (!this.firstMalformed) this.firstMalformed = {finding: f, location};
    return false;
  }
  verdict(): GuardVerdict | null {
    const hit = this.denial ?? this.firstMalformed;
    return hit ? {ok: false, code: hit.finding.code, ruleId: hit.finding.ruleId, location: hit.location} : null;
  }
}

/** Reinterpret a latin1-decoded header value as UTF-8 when it is valid UTF-8 (Node hands bytes as latin1). */
function headerForms(value: string): string[] {
  if (!/[\u0080-\u00ff]/.test(value)) return [value];
  try {
    const utf8 = new TextDecoder('utf-8', {fatal: true}).decode(Buffer.from(value, 'latin1'));
    return utf8 === value ? [value] : [utf8, value];
  } catch {
    return [value];
  }
}

function parseMediaType(contentType: string | undefined): {type: string; charset: string | null} {
  if (contentType === undefined || contentType.trim() === '') return {type: 'application/json', charset: null};
  const [type, ...params] = contentType.split(';');
  let charset: string | null = null;
  for (const p of params) {
    const m = /^\s*charset\s*=\s*"?([^";\s]+)"?\s*$/i.exec(p);
    if (m) charset = m[1].toLowerCase();
  }
  return {type: type.trim().toLowerCase(), charset};
}

/** Which body kind the guard reads for a content type; null = it cannot inspect it (415). */
export function bodyKindFor(contentType: string | undefined): BodyKind | null {
  const {type, charset} = parseMediaType(contentType);
  if (charset !== null && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') return null;
  if (type === 'application/json' || /^[a-z0-9.+-]+\/(?:[a-z0-9.-]+\+)?json$/.test(type)) return 'json';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  if (type === 'text/plain') return 'text';
  return null;
}

/**
 * Decode body bytes for inspection: identity content-encoding only, UTF-8 only (fatal).
 * Never throws.
 */
export function decodeBodyBytes(
  bytes: Uint8Array,
  contentType: string | undefined,
  contentEncoding: string | undefined,
): {ok: true; text: string} | {ok: false; code: GuardCode; ruleId: string} {
  const enc = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (enc !== 'identity' && enc !== '') return {ok: false, code: 'GUARD_UNSUPPORTED_MEDIA_TYPE', ruleId: 'BODY-CONTENT-ENCODING'};
  if (bodyKindFor(contentType) === null) return {ok: false, code: 'GUARD_UNSUPPORTED_MEDIA_TYPE', ruleId: 'BODY-MEDIA-TYPE'};
  try {
    return {ok: true, text: new TextDecoder('utf-8', {fatal: true, ignoreBOM: true}).decode(bytes)};
  } catch {
    return {ok: false, code: 'GUARD_MALFORMED_INPUT', ruleId: MALFORMED_RULE_IDS['bad-charset']};
  }
}

/**
 * The JSON pointer of the value being walked, kept as a stack and rendered only when a finding
 * needs a location (building a pointer string for every node was most of the walk's cost).
 */
class PointerStack {
  private readonly tokens: Array<string | number> = [];
  private readonly indexes: number[] = [];
  push(token: string | number, index: number): void {
    this.tokens.push(token);
    this.indexes.push(index);
  }
  pop(): void {
    this.tokens.pop();
    this.indexes.pop();
  }
  /** `body:` + the pointer (keys that are not plain identifiers replaced by `#index`). */
  location(): string {
    let out = 'body:';
    for (let d = 0; d < this.tokens.length; d++) {
      const t = this.tokens[d];
      out += `/${typeof t === 'number' ? t : safePointerToken(t, this.indexes[d])}`;
    }
    return out;
  }
}

function walkJson(value: unknown, at: PointerStack, c: Collector, limits: InspectLimits): boolean {
  if (typeof value === 'string') {
    const f = inspectValue(value, 'body', limits);
    return f !== null && c.add(f, at.location());
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      at.push(i, i);
      const stop = walkJson(value[i], at, c, limits);
      at.pop();
      if (stop) return true;
    }
    return false;
  }
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index];
      at.push(key, index);
      const keyRule = KEY_RULE_OF.get(key);
      const f = keyRule !== undefined ? denied(keyRule) : inspectValue(key, 'body', limits);
      const stop = (f !== null && c.add(f, at.location())) || walkJson(obj[key], at, c, limits);
      at.pop();
      if (stop) return true;
    }
  }
  return false;
}

function formKeyIsPrototype(name: string): boolean {
  return name.split(/[[\].]+/).some(part => PROTOTYPE_KEYS.has(part));
}

function decodeFormComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** The guard's verdict on one request. Never throws. */
export function inspectRequest(input: RequestInput, limits: InspectLimits = DEFAULT_INSPECT_LIMITS): GuardVerdict {
  const c = new Collector();
  const raw = input.rawTarget;
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > limits.maxTargetLength) {
    return {
      ok: false,
      code: 'GUARD_MALFORMED_INPUT',
      ruleId: MALFORMED_RULE_IDS[raw && raw.length > 0 ? 'too-long' : 'bad-target'],
      location: 'path',
    };
  }
  const parts = splitRequestTarget(raw);
  if (!parts) return {ok: false, code: 'GUARD_MALFORMED_INPUT', ruleId: MALFORMED_RULE_IDS['bad-target'], location: 'path'};

  // --- request target ---
  if (parts.form === 'absolute') {
    let host = '';
    try {
      host = new URL(`${parts.scheme}://${parts.authority}/`).hostname;
    } catch {
      c.add(malformed('bad-target'), 'path');
    }
    const r = host ? metadataHostRule(host) : null;
    if (r && c.add(denied(r), 'path')) return c.verdict()!;
  }
  if (parts.form !== 'asterisk' && c.add(inspectTargetPath(parts.path, limits), 'path')) return c.verdict()!;
  if (parts.query !== null) {
    const pairs = splitPairs(parts.query);
    if (pairs.length > limits.maxFields) return {ok: false, code: 'GUARD_MALFORMED_INPUT', ruleId: MALFORMED_RULE_IDS['too-long'], location: 'query'};
    for (let i = 0; i < pairs.length; i++) {
      const [name, value] = pairs[i];
      const loc = `query:${safeName(decodeFormComponent(name), i)}`;
      if (c.add(inspectValue(name, 'query', limits), loc)) return c.verdict()!;
      if (c.add(inspectValue(value, 'query', limits), loc)) return c.verdict()!;
    }
  }

  // --- headers ---
  if (input.headers.length > limits.maxFields)
    return {ok: false, code: 'GUARD_MALFORMED_INPUT', ruleId: MALFORMED_RULE_IDS['too-long'], location: 'header'};
  for (let i = 0; i < input.headers.length; i++) {
    const [name, value] = input.headers[i];
    const loc = `header:${safeName(name.toLowerCase(), i)}`;
    for (const form of headerForms(value)) {
      if (c.add(inspectValue(form, 'header', limits), loc)) return c.verdict()!;
    }
  }

  // --- body ---
  let body: {kind: BodyKind; value: unknown} | undefined;
  if (input.body !== undefined && input.body.text.length > 0) {
    const kind = bodyKindFor(input.body.contentType);
    if (kind === null) {
      // 415 is its own verdict; a denial found above still wins.
      return c.denial ? c.verdict()! : {ok: false, code: 'GUARD_UNSUPPORTED_MEDIA_TYPE', ruleId: 'BODY-MEDIA-TYPE', location: 'body:'};
    }
    const text = input.body.text;
    if (kind === 'json') {
      const parsed = scanJson(text, {maxDepth: limits.maxDepth, maxNodes: limits.maxNodes});
      if (!parsed.ok) {
        c.add(malformed(parsed.reason), `body:${parsed.pointer}`);
      } else {
        if (walkJson(parsed.value, new PointerStack(), c, limits)) return c.verdict()!;
        body = {kind, value: parsed.value};
      }
    } else if (kind === 'form') {
      const pairs = splitPairs(text);
      const out: Record<string, string> = {};
      if (pairs.length > limits.maxFields) {
        c.add(malformed('json-too-large'), 'body:');
      } else {
        for (let i = 0; i < pairs.length; i++) {
          const [rawName, rawValue] = pairs[i];
          const name = decodeFormComponent(rawName);
          const loc = `body:/${safePointerToken(name, i)}`;
          if (c.add(inspectValue(rawName, 'query', limits), loc)) return c.verdict()!;
          if (c.add(inspectValue(rawValue, 'query', limits), loc)) return c.verdict()!;
          if (formKeyIsPrototype(name)) c.add(malformed('prototype-key'), loc);
          else if (Object.prototype.hasOwnProperty.call(out, name)) c.add(malformed('duplicate-key'), loc);
          else out[name] = decodeFormComponent(rawValue);
        }
        body = {kind, value: out};
      }
    } else {
      if (c.add(inspectValue(text, 'body', limits), 'body:')) return c.verdict()!;
      body = {kind, value: text};
    }
  }

  const v = c.verdict();
  if (v) return v;
  return body ? {ok: true, body} : {ok: true};
}

/** Re-exported for the interceptor and tests. */
export type {Finding as GuardFinding};
