/**
 * Confined `$ref` resolver for OpenAPI documents written by strangers (the audit CLI, the
 * escape suite's `--spec FILE`, a target's /openapi.json, the app's own spec at boot).
 *
 * Policy (RESOLVE_POLICY_DEFAULTS, pure data; the evaluator is `resolveSpec*()`):
 * - only files under the spec's own directory, checked lexically BEFORE any file-system call and
 *   again after resolving symlinks (realpath) and again on the opened descriptor (/proc/self/fd);
 * - no URL of any scheme (http:, https:, file:, ...): an audit never fetches what it audits;
 * - regular files only, opened O_NONBLOCK|O_NOFOLLOW and checked with fstat, so a FIFO, a device
 *   (/dev/zero), a socket or a directory is refused without blocking; /proc, /sys and /dev are
 *   refused even when the spec sits there;
 * - a byte cap per file and in total, a cap on files and `$ref`s, and a wall-clock bound;
 * - JSON is parsed with JSON.parse, YAML with `yaml` (alias count bounded).
 * Each refusal becomes a RefIssue (a coded finding for the audit), never a crash or a hang. An
 * issue names the `$ref` only as a short sanitised token and never carries file contents.
 *
 * Cycles are kept as object cycles (as @apidevtools/json-schema-ref-parser's `circular: true`).
 */
import {constants as C} from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import {AppError} from '../errors';

export interface ResolvePolicy {
  /** Bytes read from one file at most (a larger file is refused without being read). */
  readonly maxFileBytes: number;
  /** Bytes read over all files of one document. */
  readonly maxTotalBytes: number;
  /** Files (root included) one document may pull in. */
  readonly maxFiles: number;
  /** `$ref`s replaced in one document. */
  readonly maxRefs: number;
  /** Wall-clock bound of one resolution. */
  readonly timeoutMs: number;
  /** Whether external (relative file) `$ref`s are followed at all. */
  readonly external: boolean;
}

export const RESOLVE_POLICY_DEFAULTS: ResolvePolicy = Object.freeze({
  maxFileBytes: 32 * 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  maxFiles: 256,
  maxRefs: 2_000_000,
  timeoutMs: 30_000,
  external: true,
});

/** Why a `$ref` (or the document itself) was refused. Each maps to an audit rule (OA-REF-*). */
export type RefIssueCode =
  | 'remote' // a URL (any scheme): never fetched
  | 'external-disabled' // external refs not allowed in this mode (in-memory or served document)
  | 'outside-root' // leaves the spec's directory (absolute path, .., symlink out)
  | 'special-file' // FIFO, device, socket, directory, /proc, /sys, /dev
  | 'too-large' // file over maxFileBytes
  | 'limit' // total bytes, files, refs or time exhausted
  | 'not-found' // the file does not exist or cannot be opened
  | 'unparseable' // not JSON/YAML
  | 'pointer'; // the fragment points nowhere, or `$ref` chains loop

export interface RefIssue {
  readonly code: RefIssueCode;
  /** JSON pointer of the `$ref` in its file (sanitised, bounded). */
  readonly pointer: string;
  /** The `$ref` as a short sanitised token. */
  readonly ref: string;
  /** The file holding the `$ref`, relative to the spec's directory (sanitised). */
  readonly file: string;
}

export interface ResolvedSpec {
  readonly document: unknown;
  readonly issues: readonly RefIssue[];
  readonly files: number;
  readonly bytes: number;
  /** The root file's text (spec files only; for line numbers in reports). */
  readonly rootText?: string;
}

/** Printable ASCII only, at most `max` characters; anything else becomes '?'. Never throws. */
export function safeToken(v: unknown, max = 48): string {
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '<non-string>';
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

class Refusal extends Error {
  constructor(readonly code: RefIssueCode) {
    super(code);
  }
}

const SPECIAL_ROOTS = ['/proc', '/sys', '/dev'];
const isUnder = (child: string, dir: string) => child === dir || child.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

type Node = Record<string, unknown> | unknown[];

/** Replace a member without ever touching a prototype (an own `__proto__` key from JSON.parse). */
function setMember(node: Node, k: string | number, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(node, k, {value: v, writable: true, enumerable: true, configurable: true});
  else (node as Record<string | number, unknown>)[k] = v;
}
const isNode = (v: unknown): v is Node => v !== null && typeof v === 'object';
const isRef = (v: unknown): v is {$ref: string} => isNode(v) && !Array.isArray(v) && typeof (v as Record<string, unknown>).$ref === 'string';

/** Parse JSON with JSON.parse (fast path) or YAML (bounded aliases). Throws Refusal('unparseable'). */
export function parseSpecText(text: string, fileName = ''): unknown {
  const head = text.trimStart()[0];
  if (/\.json$/i.test(fileName) || head === '{' || head === '[') {
    try {
      return JSON.parse(text);
    } catch {
      if (/\.json$/i.test(fileName)) throw new Refusal('unparseable');
    }
  }
  try {
    return YAML.parse(text, {maxAliasCount: 1000, prettyErrors: false, uniqueKeys: true});
  } catch {
    throw new Refusal('unparseable');
  }
}

class Resolver {
  private readonly docs = new Map<string, unknown>();
  readonly issues: RefIssue[] = [];
  bytes = 0;
  private refs = 0;
  private readonly deadline: number;
  private stopped = false;

  constructor(
    private readonly root: string | null,
    private readonly policy: ResolvePolicy,
    private readonly now: () => number = Date.now,
  ) {
    this.deadline = now() + policy.timeoutMs;
  }

  get files(): number {
    return this.docs.size;
  }

  private rel(file: string): string {
    return safeToken(this.root && file ? path.relative(this.root, file) || path.basename(file) : '', 96);
  }

  private timeUp(): boolean {
    if (!this.stopped && this.now() > this.deadline) this.stopped = true;
    return this.stopped;
  }

  /** Read one confined regular file (real path already checked) within the caps. */
  async readFile(real: string): Promise<Buffer> {
    if (this.timeUp()) throw new Refusal('limit');
    if (SPECIAL_ROOTS.some(r => isUnder(real, r))) throw new Refusal('special-file');
    if (this.docs.size >= this.policy.maxFiles) throw new Refusal('limit');
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(real, C.O_RDONLY | C.O_NONBLOCK | C.O_NOFOLLOW | (C.O_NOCTTY ?? 0));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Refusal(code === 'ELOOP' ? 'outside-root' : code === 'ENXIO' ? 'special-file' : 'not-found');
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Refusal('special-file');
      // The descriptor is what we read: check where it really points (a swap after realpath()).
      if (this.root) {
        const actual = await fs.readlink(`/proc/self/fd/${fh.fd}`).catch(() => real);
        if (!isUnder(actual, this.root)) throw new Refusal('outside-root');
      }
      const cap = Math.min(this.policy.maxFileBytes, this.policy.maxTotalBytes - this.bytes);
      if (st.size > this.policy.maxFileBytes) throw new Refusal('too-large');
      if (st.size > cap) throw new Refusal('limit');
      // st.size can lie (a file growing, a pseudo-file): read at most cap + 1 bytes.
      const buf = Buffer.allocUnsafe(Math.min(cap + 1, Math.max(st.size + 1, 64 * 1024)));
      let len = 0;
      for (;;) {
        if (len === buf.length) {
          if (len > cap) break;
          throw new Refusal('too-large'); // grew beyond the first buffer; never grow it unboundedly
        }
        const {bytesRead} = await fh.read(buf, len, buf.length - len, null);
        if (bytesRead === 0) break;
        len += bytesRead;
        if (this.timeUp()) throw new Refusal('limit');
      }
      if (len > cap) throw new Refusal(len > this.policy.maxFileBytes ? 'too-large' : 'limit');
      this.bytes += len;
      return buf.subarray(0, len);
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  async loadFile(real: string): Promise<unknown> {
    if (this.docs.has(real)) return this.docs.get(real);
    const text = (await this.readFile(real)).toString('utf8');
    const doc = parseSpecText(text, real);
    this.docs.set(real, doc);
    return doc;
  }

  /** Map a `$ref`'s file part to a confined real path, or throw a Refusal. */
  async locate(filePart: string, fromFile: string): Promise<string> {
    if (SCHEME.test(filePart)) throw new Refusal('remote');
    // A spec at the file-system root would confine nothing: external refs are off there.
    if (!this.policy.external || !this.root || !fromFile || this.root === path.parse(this.root).root) throw new Refusal('external-disabled');
    let decoded: string;
    try {
      decoded = decodeURIComponent(filePart);
    } catch {
      throw new Refusal('not-found');
    }
    if (decoded.includes('\0') || SCHEME.test(decoded)) throw new Refusal(decoded.includes('\0') ? 'not-found' : 'remote');
    const lexical = path.resolve(path.dirname(fromFile), decoded);
    if (!isUnder(lexical, this.root)) throw new Refusal('outside-root'); // before any fs call
    let real: string;
    try {
      real = await fs.realpath(lexical);
    } catch {
      throw new Refusal('not-found');
    }
    if (!isUnder(real, this.root)) throw new Refusal('outside-root');
    return real;
  }

  /** Resolve a `$ref` to its target node and the file it belongs to. */
  async target(ref: string, fromFile: string, hops = 0): Promise<{node: unknown; file: string}> {
    if (hops > 32) throw new Refusal('pointer');
    if (++this.refs > this.policy.maxRefs || this.timeUp()) throw new Refusal('limit');
    const hash = ref.indexOf('#');
    const filePart = hash < 0 ? ref : ref.slice(0, hash);
    const frag = hash < 0 ? '' : ref.slice(hash + 1);
    let file = fromFile;
    let doc: unknown;
    if (filePart === '') {
      doc = fromFile ? this.docs.get(fromFile) : this.docs.get('');
    } else {
      file = await this.locate(filePart, fromFile);
      doc = await this.loadFile(file);
    }
    let node = doc;
    if (frag !== '') {
      if (!frag.startsWith('/')) throw new Refusal('pointer');
      for (const raw of frag.slice(1).split('/')) {
        if (isRef(node)) ({node, file} = await this.target(node.$ref, file, hops + 1));
        let key: string;
        try {
          key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
        } catch {
          throw new Refusal('pointer');
        }
        if (!isNode(node) || !Object.prototype.hasOwnProperty.call(node, key)) throw new Refusal('pointer');
        node = (node as Record<string, unknown>)[key];
      }
    }
    if (isRef(node)) return this.target(node.$ref, file, hops + 1);
    return {node, file};
  }

  /** Replace every `$ref` reachable from `doc` (iteratively; shared nodes walked once). */
  async dereference(doc: unknown, file: string): Promise<void> {
    const seen = new WeakSet<object>();
    const stack: Array<{node: Node; file: string; ptr: string}> = [];
    if (isNode(doc)) stack.push({node: doc, file, ptr: ''});
    let steps = 0;
    while (stack.length > 0) {
      const {node, file: f, ptr} = stack.pop()!;
      if (seen.has(node)) continue;
      seen.add(node);
      if ((++steps & 0xfff) === 0 && this.timeUp()) {
        this.issues.push({code: 'limit', pointer: safeToken(ptr, 96), ref: '', file: this.rel(f)});
        return;
      }
      const keys = Array.isArray(node) ? node.map((_v, i) => i) : Object.keys(node);
      for (const k of keys) {
        const child = (node as Record<string | number, unknown>)[k];
        if (!isNode(child)) continue;
        const childPtr = ptr.length < 512 ? `${ptr}/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}` : ptr;
        if (isRef(child)) {
          try {
            const t = await this.target(child.$ref, f);
            setMember(node, k, t.node);
            if (isNode(t.node) && !seen.has(t.node)) stack.push({node: t.node, file: t.file, ptr: childPtr});
          } catch (e) {
            if (!(e instanceof Refusal)) throw e;
            this.issues.push({code: e.code, pointer: safeToken(childPtr, 96), ref: safeToken(child.$ref), file: this.rel(f)});
            // The refused reference is replaced by an empty object: nothing of its target is kept.
            setMember(node, k, {});
            if (e.code === 'limit') return;
          }
        } else {
          stack.push({node: child, file: f, ptr: childPtr});
        }
      }
    }
  }

  registerRoot(file: string, doc: unknown): void {
    this.docs.set(file, doc);
  }
}

function refused(code: RefIssueCode, what: string): AppError {
  return new AppError('OPENAPI_SPEC_REFUSED', `${what}: refused (${code})`, {reason: code});
}

/**
 * Load and dereference a spec FILE under the policy. The spec's own directory (after realpath)
 * is the confinement root. A root file that cannot be read under the policy throws AppError
 * OPENAPI_SPEC_REFUSED (details.reason = a RefIssueCode); refused `$ref`s become issues.
 */
export async function resolveSpecFile(file: string, overrides: Partial<ResolvePolicy> = {}, clock: () => number = Date.now): Promise<ResolvedSpec> {
  const policy = {...RESOLVE_POLICY_DEFAULTS, ...overrides};
  let real: string;
  try {
    real = await fs.realpath(path.resolve(file));
  } catch {
    throw refused('not-found', 'spec file');
  }
  const r = new Resolver(path.dirname(real), policy, clock);
  let doc: unknown;
  let rootText: string;
  try {
    rootText = (await r.readFile(real)).toString('utf8');
    doc = parseSpecText(rootText, real);
  } catch (e) {
    if (e instanceof Refusal) throw refused(e.code, 'spec file');
    throw e;
  }
  r.registerRoot(real, doc);
  await r.dereference(doc, real);
  return {document: doc, issues: r.issues, files: r.files, bytes: r.bytes, rootText};
}

/**
 * Dereference an in-memory document (the app's own spec, a document served by a target).
 * Internal `$ref`s only unless `baseDir` is given AND the policy allows external refs; the
 * document is cloned, never mutated.
 */
export async function resolveSpecObject(doc: object, opts: {baseDir?: string} & Partial<ResolvePolicy> = {}): Promise<ResolvedSpec> {
  const {baseDir, ...overrides} = opts;
  const policy = {...RESOLVE_POLICY_DEFAULTS, external: baseDir !== undefined, ...overrides};
  const root = baseDir !== undefined ? await fs.realpath(path.resolve(baseDir)).catch(() => null) : null;
  const r = new Resolver(root, policy);
  const clone = structuredClone(doc);
  const pseudo = root ? path.join(root, '\0document') : '';
  r.registerRoot(pseudo, clone);
  await r.dereference(clone, pseudo);
  return {document: clone, issues: r.issues, files: r.files - 1, bytes: r.bytes};
}
