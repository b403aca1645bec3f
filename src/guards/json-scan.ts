/**
 * A strict RFC 8259 JSON parser for the request guard. JSON.parse cannot report duplicate keys
 * (the last one silently wins, so the guard and the application could see different values) and
 * happily builds `__proto__` keys; this parser refuses both, bounds depth and node count, and
 * reports a JSON pointer for every failure. It yields the same value JSON.parse would for any
 * accepted document (property-tested), built from plain objects.
 *
 * Pure module: no LoopBack imports, no I/O.
 */
import type {MalformedReason} from './rules';

/** Keys refused anywhere in a body: prototype pollution gadgets. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export interface JsonLimits {
  readonly maxDepth: number;
  readonly maxNodes: number;
}

export type JsonScanResult =
  {readonly ok: true; readonly value: unknown} | {readonly ok: false; readonly reason: MalformedReason; readonly pointer: string};

class JsonFail {
  constructor(
    readonly reason: MalformedReason,
    readonly pointer: string,
  ) {}
}

/** A JSON-pointer token that is safe to log: the key itself when harmless, else `#<index>`. */
export function safePointerToken(key: string, index: number): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(key) ? key : `#${index}`;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * The scanner keeps the pointer of the value being parsed as a stack of tokens and renders it only
 * when it reports a failure (a string per node was a large share of the scan's cost).
 */
class Scanner {
  private i = 0;
  private nodes = 0;
  private readonly tokens: Array<string | number> = [];
  private readonly indexes: number[] = [];
  constructor(
    private readonly s: string,
    private readonly limits: JsonLimits,
  ) {}

  run(): unknown {
    this.ws();
    const v = this.value(0);
    this.ws();
    if (this.i !== this.s.length) throw this.fail('json-syntax');
    return v;
  }

  /** The pointer of the current position: `/a/0/#2`. */
  private pointer(): string {
    let out = '';
    for (let d = 0; d < this.tokens.length; d++) {
      const t = this.tokens[d];
      out += `/${typeof t === 'number' ? t : safePointerToken(t, this.indexes[d])}`;
    }
    return out;
  }

  private fail(reason: MalformedReason): JsonFail {
    return new JsonFail(reason, this.pointer());
  }

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
  }

  private value(depth: number): unknown {
    if (++this.nodes > this.limits.maxNodes) throw this.fail('json-too-large');
    const c = this.s[this.i];
    switch (c) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default: {
        NUMBER.lastIndex = this.i;
        const m = NUMBER.exec(this.s);
        if (!m || m[0] === '' || m[0] === '-') throw this.fail('json-syntax');
        this.i += m[0].length;
        return Number(m[0]);
      }
    }
  }

  private literal<T>(word: string, v: T): T {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    throw this.fail('json-syntax');
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > this.limits.maxDepth) throw this.fail('json-too-deep');
    this.i++; // {
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (let index = 0; ; index++) {
      this.ws();
      if (this.s[this.i] !== '"') throw this.fail('json-syntax');
      const key = this.string();
      // From here on, failures point at the member.
      this.tokens.push(key);
      this.indexes.push(index);
      if (PROTOTYPE_KEYS.has(key)) throw this.fail('prototype-key');
      // `out` is a plain object and prototype keys are refused above: an own property is a duplicate.
      if (Object.prototype.hasOwnProperty.call(out, key)) throw this.fail('duplicate-key');
      this.ws();
      if (this.s[this.i] !== ':') throw this.fail('json-syntax');
      this.i++;
      this.ws();
      out[key] = this.value(depth);
      if (this.endOfMember('}')) return out;
    }
  }

  private array(depth: number): unknown[] {
    if (depth > this.limits.maxDepth) throw this.fail('json-too-deep');
    this.i++; // [
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (let index = 0; ; index++) {
      this.ws();
      this.tokens.push(index);
      this.indexes.push(index);
      out.push(this.value(depth));
      if (this.endOfMember(']')) return out;
    }
  }

  /**
   * After a member's value: consume `,` (false: another member follows) or `close` (true: the
   * container ends); leave the member's path either way. Anything else is a syntax error.
   */
  private endOfMember(close: '}' | ']'): boolean {
    this.ws();
    const c = this.s[this.i];
    if (c !== ',' && c !== close) throw this.fail('json-syntax');
    this.i++;
    this.tokens.pop();
    this.indexes.pop();
    return c === close;
  }

  private string(): string {
    const s = this.s;
    this.i++; // opening quote
    let out = '';
    let start = this.i;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(start, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) throw this.fail('json-syntax');
      if (c !== 0x5c) {
        this.i++;
        continue;
      }
      out += s.slice(start, this.i);
      const e = s[this.i + 1];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = s.slice(this.i + 2, this.i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.fail('json-syntax');
          out += String.fromCharCode(parseInt(hex, 16));
          this.i += 4;
          break;
        }
        default:
          throw this.fail('json-syntax');
      }
      this.i += 2;
      start = this.i;
    }
    throw this.fail('json-syntax');
  }
}

/** Parse strictly. Never throws. */
export function scanJson(text: string, limits: JsonLimits): JsonScanResult {
  try {
    return {ok: true, value: new Scanner(text, limits).run()};
  } catch (e) {
    if (e instanceof JsonFail) return {ok: false, reason: e.reason, pointer: e.pointer};
    // RangeError (stack) or anything unexpected: fail closed as too deep / syntax.
    return {ok: false, reason: e instanceof RangeError ? 'json-too-deep' : 'json-syntax', pointer: ''};
  }
}
