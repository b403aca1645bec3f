/**
 * OpenAPI audit: does a service's API let an authenticated caller steer it at the host, the
 * container runtime or an internal network? Works on OpenAPI 3.0/3.1/3.2 and Swagger 2.0.
 *
 * `auditOpenApi(doc)` is pure: it takes an already dereferenced document (object cycles from
 * recursive schemas are fine) and returns findings. The I/O is the confined resolver
 * (./resolver.ts): only files under the spec's own directory, regular files, bounded in bytes and
 * time, never the network. Its refusals enter the report as OA-REF-* findings.
 *
 * Output hygiene: a finding never carries a value taken from the document other than a short
 * sanitised token (safeToken): parameter names, path templates and `$ref`s are bounded printable
 * ASCII; a parameter's `in` is one of the known locations or "invalid".
 *
 * Rules (ids, severities) are data: OPENAPI_AUDIT_RULES; container-management routes are decided
 * by ./routes.ts from several signals and carry a confidence. Operation extensions understood:
 * - `x-mtls-exempt: true` (operation or path item): the route is exempt from mTLS authentication;
 * - `x-outbound-client: true` (operation): URL-like inputs of this operation are only ever fetched
 *   through the SSRF-safe OutboundClient (src/outbound/outbound-client.ts).
 *
 * `classifyField()` is shared with the URL-parameter interceptor (guards/url-param.interceptor.ts).
 */
import type {EnforceMode} from '../config/config';
import {AppError} from '../errors';
import {audit, Logger} from '../logging/logger';
import {RefIssue, RefIssueCode, ResolvedSpec, resolveSpecFile, resolveSpecObject, ResolvePolicy, safeToken} from './resolver';
import {classifyRoute, Confidence, docSignals, DocScore} from './routes';

export type Severity = 'high' | 'medium' | 'low' | 'info';

export interface AuditRule {
  readonly id: string;
  readonly severity: Severity;
  readonly description: string;
}

export const OPENAPI_AUDIT_RULES = {
  'OA-NOT-OPENAPI': {
    id: 'OA-NOT-OPENAPI',
    severity: 'high',
    description: 'The document is neither OpenAPI 3.x nor Swagger 2.0 (no version field, or nothing to describe: no paths, webhooks or components).',
  },
  'OA-AUTH-EXEMPT': {
    id: 'OA-AUTH-EXEMPT',
    severity: 'high',
    description: 'The operation is exempt from authentication (`security: []` or `x-mtls-exempt: true`).',
  },
  'OA-AUTH-OPTIONAL': {
    id: 'OA-AUTH-OPTIONAL',
    severity: 'high',
    description: 'The security requirement list contains an empty requirement `{}`: authentication is optional, an anonymous caller is allowed.',
  },
  'OA-AUTH-UNDECLARED': {
    id: 'OA-AUTH-UNDECLARED',
    severity: 'low',
    description: 'Neither the operation nor the document declares a security requirement.',
  },
  'OA-SECURITY-SCHEME-UNDEFINED': {
    id: 'OA-SECURITY-SCHEME-UNDEFINED',
    severity: 'medium',
    description:
      'A security requirement names a scheme that is not defined in components.securitySchemes / securityDefinitions: the requirement protects nothing.',
  },
  'OA-CONTAINER-MGMT-PATH': {
    id: 'OA-CONTAINER-MGMT-PATH',
    severity: 'high',
    description:
      'The operation is a container-management or host route (Docker Engine/Podman API, Kubernetes API server, kubelet, etcd), decided from its path shape and corroborating signals; the finding carries a confidence.',
  },
  'OA-URL-PARAM-UNGUARDED': {
    id: 'OA-URL-PARAM-UNGUARDED',
    severity: 'high',
    description:
      'A parameter or body field denotes a URL/host (format uri, or a name such as url, callback, webhook, endpoint, host, remote, src) and the operation is not marked `x-outbound-client: true`.',
  },
  'OA-CALLBACK-FROM-REQUEST': {
    id: 'OA-CALLBACK-FROM-REQUEST',
    severity: 'high',
    description:
      'A callback URL is taken from the request (`{$request.body#/...}`, query, header or path): the server calls a URL its caller chose (server-side request forgery) unless the operation is marked `x-outbound-client: true`.',
  },
  'OA-OUTBOUND-CALL': {
    id: 'OA-OUTBOUND-CALL',
    severity: 'low',
    description: 'The API calls out (a webhook or a callback): subscriber URLs must be fetched through the SSRF-safe outbound client.',
  },
  'OA-SOCKET-PARAM': {
    id: 'OA-SOCKET-PARAM',
    severity: 'high',
    description: 'A parameter or body field denotes a socket (socketPath, dockerHost, ...).',
  },
  'OA-CONTAINER-ID-PARAM': {
    id: 'OA-CONTAINER-ID-PARAM',
    severity: 'high',
    description: 'A parameter or body field denotes a container, pod or exec instance.',
  },
  'OA-HOST-PATH-PARAM': {
    id: 'OA-HOST-PATH-PARAM',
    severity: 'medium',
    description: 'A parameter or body field denotes a file-system path (path, file, dir, volume, mount, hostPath, PathOnHost, ...).',
  },
  'OA-SCHEMA-DEPTH': {
    id: 'OA-SCHEMA-DEPTH',
    severity: 'low',
    description: 'A schema is nested deeper than the audit walks (64 levels): fields below that depth were not audited.',
  },
  'OA-UNRESOLVED-REF': {
    id: 'OA-UNRESOLVED-REF',
    severity: 'medium',
    description: 'A `$ref` is left unresolved, so part of the API could not be audited.',
  },
  'OA-REF-REMOTE': {
    id: 'OA-REF-REMOTE',
    severity: 'medium',
    description: 'A `$ref` names a URL (http:, https:, file:, ...): never fetched; the referenced part was not audited.',
  },
  'OA-REF-OUTSIDE-ROOT': {
    id: 'OA-REF-OUTSIDE-ROOT',
    severity: 'high',
    description:
      "A `$ref` leaves the spec's own directory (absolute path, `..`, symlink out): refused without reading; a hostile spec or a packaging mistake.",
  },
  'OA-REF-SPECIAL-FILE': {
    id: 'OA-REF-SPECIAL-FILE',
    severity: 'high',
    description: 'A `$ref` names something that is not a regular file (FIFO, device, socket, directory, /proc, /sys, /dev): refused without reading.',
  },
  'OA-REF-TOO-LARGE': {
    id: 'OA-REF-TOO-LARGE',
    severity: 'medium',
    description: 'A `$ref`erenced file is larger than the per-file byte cap: refused without reading.',
  },
  'OA-REF-LIMIT': {
    id: 'OA-REF-LIMIT',
    severity: 'medium',
    description: 'Resolution stopped at a limit (total bytes, number of files or `$ref`s, time): the rest was not audited.',
  },
  'OA-REF-EXTERNAL-DISABLED': {
    id: 'OA-REF-EXTERNAL-DISABLED',
    severity: 'medium',
    description: 'An external `$ref` in a document that may only use internal ones (an in-memory or served document).',
  },
  'OA-REF-UNRESOLVABLE': {
    id: 'OA-REF-UNRESOLVABLE',
    severity: 'medium',
    description: 'A `$ref` points to a missing file, an unparseable file or a missing JSON pointer (or `$ref`s loop).',
  },
} as const satisfies Record<string, AuditRule>;
export type AuditRuleId = keyof typeof OPENAPI_AUDIT_RULES;

const REF_RULE: Record<RefIssueCode, AuditRuleId> = {
  remote: 'OA-REF-REMOTE',
  'outside-root': 'OA-REF-OUTSIDE-ROOT',
  'special-file': 'OA-REF-SPECIAL-FILE',
  'too-large': 'OA-REF-TOO-LARGE',
  limit: 'OA-REF-LIMIT',
  'external-disabled': 'OA-REF-EXTERNAL-DISABLED',
  'not-found': 'OA-REF-UNRESOLVABLE',
  unparseable: 'OA-REF-UNRESOLVABLE',
  pointer: 'OA-REF-UNRESOLVABLE',
};

export interface AuditFinding {
  readonly ruleId: AuditRuleId;
  readonly severity: Severity;
  /** Upper-case HTTP method, when the finding is about an operation. */
  readonly method?: string;
  /** Path template (server/basePath prefix applied), or `webhook:NAME` / `callback:NAME`. */
  readonly path?: string;
  /** e.g. 'operation', 'parameter:query:url', 'requestBody:application/json#/properties/callback', '$ref:/paths/...'. */
  readonly location: string;
  readonly message: string;
  /** How sure the audit is (route decisions and name guesses); absent = certain. */
  readonly confidence?: Confidence;
}

export interface AuditReport {
  readonly format: 'openapi-3' | 'swagger-2' | 'unknown';
  /** e.g. '3.1.0', '2.0' (sanitised). */
  readonly version?: string;
  readonly operations: number;
  readonly findings: readonly AuditFinding[];
  readonly counts: Readonly<Record<Severity, number>>;
}

export type SensitiveKind = 'url' | 'socket' | 'container-id' | 'host-path';

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Split an identifier into lower-case words: callbackURL -> [callback, url], socket_path -> [socket, path]. */
export function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(w => w !== '')
    .map(w => w.toLowerCase());
}

const URL_FORMATS = new Set(['uri', 'url', 'iri', 'uri-reference', 'iri-reference', 'uri-template', 'hostname', 'idn-hostname']);
const URL_LAST_WORDS = new Set([
  'url',
  'uri',
  'urls',
  'uris',
  'href',
  'callback',
  'callbacks',
  'webhook',
  'webhooks',
  'endpoint',
  'endpoints',
  'host',
  'hostname',
  'origin',
  'proxy',
  'upstream',
  'redirect',
  'src',
]);
const PATH_LAST_WORDS = new Set([
  'path',
  'paths',
  'file',
  'files',
  'filename',
  'filepath',
  'dir',
  'dirs',
  'directory',
  'folder',
  'volume',
  'volumes',
  'mount',
  'mounts',
  'mountpoint',
  'bind',
  'binds',
  'logdir',
  'logpath',
  'hostpath',
]);

/**
 * Does a field name (and its schema) denote a URL/host, a socket, a container id or a host path?
 * Pure; never throws.
 */
export function classifyField(name: string, schema?: unknown): SensitiveKind | null {
  const w = words(name);
  const joined = w.join('');
  if (w.includes('socket') || w.includes('sock') || joined === 'dockerhost' || joined === 'containerhost' || joined === 'npipe') return 'socket';
  if ((w.includes('container') || w.includes('pod') || joined === 'execid') && !w.includes('url')) return 'container-id';
  const fmt = isObj(schema) && typeof schema.format === 'string' ? schema.format.toLowerCase() : '';
  const type = isObj(schema) ? schema.type : undefined;
  const stringy = type === undefined || type === 'string' || (Array.isArray(type) && type.includes('string'));
  const last = w[w.length - 1] ?? '';
  // A path on the host (Docker's Devices[].PathOnHost, hostPath) is a path, not a URL.
  if (w.includes('path') && !URL_FORMATS.has(fmt)) return 'host-path';
  if (URL_FORMATS.has(fmt) || URL_LAST_WORDS.has(last) || w.includes('webhook') || w.includes('callback')) return 'url';
  // Docker's /build?remote= and similar: a string the server fetches.
  if (last === 'remote' && stringy) return 'url';
  if (PATH_LAST_WORDS.has(last) || joined === 'hostpath') return 'host-path';
  return null;
}

/** HTTP methods of a path item: OAS 3.2 adds `query`; Swagger 2 has no trace (harmless). */
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace', 'query'];
const PARAM_IN = new Set(['query', 'header', 'path', 'cookie', 'body', 'formData', 'querystring']);
const MAX_SCHEMA_DEPTH = 64;

const KIND_RULE: Record<SensitiveKind, AuditRuleId> = {
  url: 'OA-URL-PARAM-UNGUARDED',
  socket: 'OA-SOCKET-PARAM',
  'container-id': 'OA-CONTAINER-ID-PARAM',
  'host-path': 'OA-HOST-PATH-PARAM',
};

const safePath = (p: string) => safeToken(p, 200);
const safeName = (n: unknown) => safeToken(n, 64);
const ptrKey = (k: string) => safeName(k.replace(/~/g, '~0').replace(/\//g, '~1'));

class Audit {
  readonly findings: AuditFinding[] = [];
  add(ruleId: AuditRuleId, location: string, message: string, method?: string, p?: string, confidence?: Confidence): void {
    this.findings.push({
      ruleId,
      severity: OPENAPI_AUDIT_RULES[ruleId].severity,
      location,
      message,
      ...(method ? {method} : {}),
      ...(p !== undefined ? {path: safePath(p)} : {}),
      ...(confidence ? {confidence} : {}),
    });
  }
}

const SUBSCHEMA_KEYS = [
  'items',
  'additionalProperties',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'unevaluatedProperties',
  'unevaluatedItems',
] as const;
const SUBSCHEMA_LIST_KEYS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const;
const SUBSCHEMA_MAP_KEYS = ['patternProperties', 'dependentSchemas'] as const;

/**
 * Walk a schema (cycle-safe, bounded) and report every property whose name/schema is sensitive.
 * Returns true when the depth bound cut the walk (reported as OA-SCHEMA-DEPTH by the caller).
 */
function walkSchema(
  schema: unknown,
  pointer: string,
  visit: (name: string, s: unknown, ptr: string) => void,
  seen: WeakSet<object>,
  depth = 0,
): boolean {
  if (!isObj(schema) || seen.has(schema)) return false;
  if (depth > MAX_SCHEMA_DEPTH) return true;
  seen.add(schema);
  let cut = false;
  if (isObj(schema.properties)) {
    for (const [name, s] of Object.entries(schema.properties)) {
      const ptr = `${pointer}/properties/${ptrKey(name)}`;
      visit(name, s, ptr);
      cut = walkSchema(s, ptr, visit, seen, depth + 1) || cut;
    }
  }
  for (const k of SUBSCHEMA_KEYS) if (isObj(schema[k])) cut = walkSchema(schema[k], `${pointer}/${k}`, visit, seen, depth + 1) || cut;
  if (Array.isArray(schema.items)) schema.items.forEach((s, i) => (cut = walkSchema(s, `${pointer}/items/${i}`, visit, seen, depth + 1) || cut));
  for (const k of SUBSCHEMA_LIST_KEYS) {
    const list = schema[k];
    if (Array.isArray(list)) list.forEach((s, i) => (cut = walkSchema(s, `${pointer}/${k}/${i}`, visit, seen, depth + 1) || cut));
  }
  for (const k of SUBSCHEMA_MAP_KEYS) {
    const map = schema[k];
    if (isObj(map)) for (const [n, s] of Object.entries(map)) cut = walkSchema(s, `${pointer}/${k}/${ptrKey(n)}`, visit, seen, depth + 1) || cut;
  }
  return cut;
}

/** Find `$ref`s left in the document (cycle-safe). */
function leftoverRefs(doc: unknown): string[] {
  const out: string[] = [];
  const seen = new WeakSet<object>();
  const walk = (v: unknown, ptr: string, depth: number) => {
    if (v === null || typeof v !== 'object' || seen.has(v) || depth > 64 || out.length > 20) return;
    seen.add(v);
    if (isObj(v) && typeof v.$ref === 'string') out.push(ptr || '/');
    for (const [k, c] of Object.entries(v)) walk(c, `${ptr}/${ptrKey(k)}`, depth + 1);
  };
  walk(doc, '', 0);
  return out;
}

/** The path part of an OAS 3 server URL (variables replaced by their defaults), without a trailing slash. */
export function serverPathPrefix(server: unknown): string {
  if (!isObj(server) || typeof server.url !== 'string') return '';
  const vars = isObj(server.variables) ? server.variables : {};
  const url = server.url.replace(/\{([^}]*)\}/g, (_m, n: string) => {
    const v = vars[n];
    return isObj(v) && typeof v.default === 'string' ? v.default : '';
  });
  let p: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    try {
      p = new URL(url).pathname;
    } catch {
      return '';
    }
  } else if (url.startsWith('//')) {
    p = url.replace(/^\/\/[^/]*/, '');
  } else {
    p = url.split(/[?#]/)[0];
  }
  p = p.replace(/\/+$/, '');
  return p === '' || p.startsWith('/') ? p : `/${p}`;
}

function detectFormat(doc: unknown): {format: AuditReport['format']; version?: string} {
  if (!isObj(doc)) return {format: 'unknown'};
  const o = doc.openapi;
  if ((typeof o === 'string' && /^3\.\d+(\.\d+)?(-.+)?$/.test(o)) || (typeof o === 'number' && o >= 3 && o < 4))
    return {format: 'openapi-3', version: safeToken(String(o), 16)};
  const s = doc.swagger;
  // `swagger: 2.0` unquoted in YAML is the number 2.
  if (s === '2.0' || s === 2) return {format: 'swagger-2', version: '2.0'};
  return {format: 'unknown'};
}

function definedSchemes(doc: Json, format: AuditReport['format']): Set<string> | null {
  const defs = format === 'swagger-2' ? doc.securityDefinitions : isObj(doc.components) ? doc.components.securitySchemes : undefined;
  return isObj(defs) ? new Set(Object.keys(defs)) : new Set();
}

interface OpContext {
  a: Audit;
  doc: Json;
  format: AuditReport['format'];
  schemes: Set<string> | null;
  docScore: DocScore;
  reportedSchemes: Set<string>;
}

/** Check a security requirement list; returns 'exempt' | 'optional' | 'declared' | 'undeclared'. */
function checkSecurity(ctx: OpContext, security: unknown, method: string | undefined, p: string | undefined, where: string): void {
  if (!Array.isArray(security)) return;
  for (const req of security) {
    if (!isObj(req)) continue;
    for (const name of Object.keys(req)) {
      if (ctx.schemes && !ctx.schemes.has(name) && !ctx.reportedSchemes.has(`${where}:${name}`)) {
        ctx.reportedSchemes.add(`${where}:${name}`);
        ctx.a.add('OA-SECURITY-SCHEME-UNDEFINED', where, `security requirement names an undefined scheme '${safeName(name)}'`, method, p);
      }
    }
  }
}

function auditOperation(ctx: OpContext, op: Json, item: Json, M: string, fullPath: string, kind: 'path' | 'webhook' | 'callback'): void {
  const {a} = ctx;
  // authentication (not for webhooks/callbacks: there the API is the client)
  if (kind === 'path') {
    const security = op.security !== undefined ? op.security : ctx.doc.security;
    if (op['x-mtls-exempt'] === true || item['x-mtls-exempt'] === true) {
      a.add('OA-AUTH-EXEMPT', 'operation', 'x-mtls-exempt: true', M, fullPath);
    } else if (Array.isArray(security) && security.length === 0) {
      a.add('OA-AUTH-EXEMPT', 'operation', 'security: []', M, fullPath);
    } else if (Array.isArray(security) && security.some(r => isObj(r) && Object.keys(r).length === 0)) {
      a.add('OA-AUTH-OPTIONAL', 'operation', 'security contains {}: anonymous access allowed', M, fullPath);
    } else if (security === undefined) {
      a.add('OA-AUTH-UNDECLARED', 'operation', 'no security requirement declared', M, fullPath);
    }
    if (op.security !== undefined) checkSecurity(ctx, op.security, M, fullPath, 'operation');
  } else if (op['x-outbound-client'] !== true) {
    a.add('OA-OUTBOUND-CALL', 'operation', `the API calls subscribers (${kind})`, M, fullPath);
  }

  // parameters
  const pathParams = Array.isArray(item.parameters) ? item.parameters : [];
  const opParams = Array.isArray(op.parameters) ? op.parameters : [];
  const merged = new Map<string, Json>();
  for (const prm of [...pathParams, ...opParams]) if (isObj(prm)) merged.set(`${String(prm.in)}:${String(prm.name)}`, prm);

  // route (operation paths only)
  if (kind === 'path') {
    const params = [...merged.values()];
    const verdict = classifyRoute(
      {
        method: M,
        path: fullPath,
        paramNames: params.filter(p => typeof p.name === 'string').map(p => p.name as string),
        pathParamKinds: params.filter(p => p.in === 'path').map(p => classifyField(String(p.name ?? ''), isObj(p.schema) ? p.schema : p)),
        tags: Array.isArray(op.tags) ? op.tags.filter((t): t is string => typeof t === 'string') : [],
        operationId: typeof op.operationId === 'string' ? op.operationId : undefined,
      },
      ctx.docScore,
    );
    if (verdict)
      a.add(
        'OA-CONTAINER-MGMT-PATH',
        'operation',
        `${verdict.shapeId} (score ${verdict.score}: ${verdict.signals.join(', ')})`,
        M,
        fullPath,
        verdict.confidence,
      );
  }

  // inputs
  const guarded = op['x-outbound-client'] === true;
  const depthCut = {cut: false};
  const report1 = (k: SensitiveKind | null, location: string, s?: unknown) => {
    if (!k || (k === 'url' && guarded)) return;
    const conf: Confidence | undefined =
      k === 'url' && isObj(s) && typeof s.format === 'string' && URL_FORMATS.has(s.format.toLowerCase()) ? 'high' : 'medium';
    a.add(KIND_RULE[k], location, `${k} input`, M, fullPath, conf);
  };
  for (const prm of merged.values()) {
    const name = String(prm.name ?? '');
    const where = typeof prm.in === 'string' && PARAM_IN.has(prm.in) ? prm.in : 'invalid';
    const loc = `parameter:${where}:${safeName(name)}`;
    if (prm.in === 'body') {
      report1(classifyField(name, prm.schema), loc, prm.schema);
      depthCut.cut = walkSchema(prm.schema, `${loc}#`, (n, s, ptr) => report1(classifyField(n, s), ptr, s), new WeakSet()) || depthCut.cut;
    } else {
      const s = isObj(prm.schema) ? prm.schema : prm;
      report1(classifyField(name, s), loc, s);
    }
  }
  if (isObj(op.requestBody) && isObj(op.requestBody.content)) {
    for (const [media, mt] of Object.entries(op.requestBody.content)) {
      if (!isObj(mt)) continue;
      depthCut.cut =
        walkSchema(mt.schema, `requestBody:${safeName(media)}#`, (n, s, ptr) => report1(classifyField(n, s), ptr, s), new WeakSet()) || depthCut.cut;
    }
  }
  if (depthCut.cut) a.add('OA-SCHEMA-DEPTH', 'operation', `schema walk stopped at depth ${MAX_SCHEMA_DEPTH}`, M, fullPath);

  // callbacks: examined as operations of their own; a URL taken from the request is SSRF
  if (isObj(op.callbacks)) {
    for (const [cbName, cb] of Object.entries(op.callbacks)) {
      if (!isObj(cb)) continue;
      for (const [expr, cbItem] of Object.entries(cb)) {
        if (/\$request\.(?:body|query|header|path)/.test(expr) && !guarded) {
          a.add('OA-CALLBACK-FROM-REQUEST', `callback:${safeName(cbName)}`, 'callback URL taken from the request', M, fullPath, 'high');
        }
        if (isObj(cbItem)) forEachOperation(cbItem, (m, cop) => auditOperation(ctx, cop, cbItem, m, `callback:${safeName(cbName)}`, 'callback'));
      }
    }
  }
}

function forEachOperation(item: Json, fn: (method: string, op: Json) => void): void {
  for (const method of METHODS) {
    const op = item[method];
    if (isObj(op)) fn(method.toUpperCase(), op);
  }
  // OAS 3.2: additionalOperations (custom methods)
  if (isObj(item.additionalOperations)) {
    for (const [m, op] of Object.entries(item.additionalOperations)) if (isObj(op)) fn(safeToken(m, 16).toUpperCase(), op);
  }
}

/** The audit. Pure over a dereferenced document; never throws. */
export function auditOpenApi(doc: unknown, refIssues: readonly RefIssue[] = []): AuditReport {
  const a = new Audit();
  const {format, version} = detectFormat(doc);
  for (const i of refIssues) a.add(REF_RULE[i.code], `$ref:${i.file ? `${i.file}#` : '#'}${i.pointer}`, `$ref '${i.ref}' refused (${i.code})`);
  const hasPaths = isObj(doc) && isObj(doc.paths);
  const hasWebhooks = isObj(doc) && isObj(doc.webhooks);
  const hasComponents = isObj(doc) && isObj(doc.components);
  const minor = format === 'openapi-3' && version !== undefined ? Number(/^3\.(\d+)/.exec(version)?.[1] ?? 0) : 0;
  const oas31plus = minor >= 1;
  if (format === 'unknown' || !isObj(doc) || !(hasPaths || (oas31plus && (hasWebhooks || hasComponents)))) {
    a.add('OA-NOT-OPENAPI', 'document', 'not an OpenAPI 3.x or Swagger 2.0 document');
    return report(format, version, 0, a.findings);
  }
  const ctx: OpContext = {a, doc, format, schemes: definedSchemes(doc, format), docScore: docScore(doc, format), reportedSchemes: new Set()};
  checkSecurity(ctx, doc.security, undefined, undefined, 'document');

  const prefix =
    format === 'swagger-2'
      ? typeof doc.basePath === 'string'
        ? doc.basePath.replace(/\/+$/, '')
        : ''
      : Array.isArray(doc.servers) && doc.servers.length > 0
        ? serverPathPrefix(doc.servers[0])
        : '';

  let operations = 0;
  if (hasPaths) {
    for (const [p, item] of Object.entries(doc.paths as Json)) {
      if (!isObj(item)) continue;
      // OAS 3 path-item level servers override the document's
      const pfx = format === 'openapi-3' && Array.isArray(item.servers) && item.servers.length > 0 ? serverPathPrefix(item.servers[0]) : prefix;
      forEachOperation(item, (M, op) => {
        operations++;
        const opPfx = format === 'openapi-3' && Array.isArray(op.servers) && op.servers.length > 0 ? serverPathPrefix(op.servers[0]) : pfx;
        auditOperation(ctx, op, item, M, `${opPfx}${p}`, 'path');
      });
    }
  }
  if (hasWebhooks) {
    for (const [name, item] of Object.entries(doc.webhooks as Json)) {
      if (!isObj(item)) continue;
      forEachOperation(item, (M, op) => {
        operations++;
        auditOperation(ctx, op, item, M, `webhook:${safeName(name)}`, 'webhook');
      });
    }
  }
  for (const ref of leftoverRefs(doc)) a.add('OA-UNRESOLVED-REF', safeToken(ref, 120), 'unresolved $ref');
  return report(format, version, operations, a.findings);
}

function docScore(doc: Json, format: AuditReport['format']): DocScore {
  const info = isObj(doc.info) ? doc.info : {};
  const text = `${typeof info.title === 'string' ? info.title : ''} ${typeof info.description === 'string' ? info.description.slice(0, 2000) : ''}`;
  const servers: string[] = [];
  if (format === 'swagger-2')
    servers.push(`${typeof doc.host === 'string' ? `//${doc.host}` : ''}${typeof doc.basePath === 'string' ? doc.basePath : ''}`);
  else if (Array.isArray(doc.servers)) for (const s of doc.servers) if (isObj(s) && typeof s.url === 'string') servers.push(s.url);
  return docSignals({text, servers});
}

function report(format: AuditReport['format'], version: string | undefined, operations: number, findings: AuditFinding[]): AuditReport {
  const counts: Record<Severity, number> = {high: 0, medium: 0, low: 0, info: 0};
  for (const f of findings) counts[f.severity]++;
  return {format, ...(version ? {version} : {}), operations, findings, counts};
}

export interface ResolveOptions extends Partial<ResolvePolicy> {
  /** Base for relative external `$ref`s when `source` is an object (default: none = internal refs only). */
  baseDir?: string;
}

/**
 * Dereference under the resolver policy. `source` is a file path (JSON or YAML) or an already
 * parsed document. Throws AppError OPENAPI_SPEC_REFUSED when the file itself is refused.
 */
export async function resolveOpenApiWithIssues(source: string | object, opts: ResolveOptions = {}): Promise<ResolvedSpec> {
  return typeof source === 'string' ? resolveSpecFile(source, opts) : resolveSpecObject(source, opts);
}

/**
 * Dereference and return the document; any refused `$ref` is an error (AppError
 * OPENAPI_SPEC_REFUSED naming the first refusal as a sanitised token). For callers that need a
 * complete document (the escape suite); the audit uses resolveOpenApiWithIssues().
 */
export async function resolveOpenApi(source: string | object, opts: ResolveOptions = {}): Promise<object> {
  const r = await resolveOpenApiWithIssues(source, opts);
  const first = r.issues[0];
  if (first) {
    throw new AppError(
      'OPENAPI_SPEC_REFUSED',
      `$ref '${first.ref}' at ${first.file ? `${first.file}#` : '#'}${first.pointer} refused (${first.code})${r.issues.length > 1 ? ` and ${r.issues.length - 1} more` : ''}`,
      {reason: first.code},
    );
  }
  return r.document as object;
}

export async function auditOpenApiFile(file: string, opts: Partial<ResolvePolicy> = {}): Promise<AuditReport> {
  const r = await resolveSpecFile(file, opts);
  return auditOpenApi(r.document, r.issues);
}

export function formatReportText(r: AuditReport, source = ''): string {
  const lines = [
    `OpenAPI audit${source ? ` of ${safeToken(source, 200)}` : ''}: ${r.format}${r.version ? ` ${r.version}` : ''}, ${r.operations} operation(s)`,
  ];
  for (const f of r.findings) {
    const where = f.method ? `${f.method} ${f.path} ` : '';
    lines.push(
      `  [${f.severity.toUpperCase()}] ${f.ruleId} ${where}(${f.location}): ${f.message}${f.confidence ? ` [confidence ${f.confidence}]` : ''}`,
    );
  }
  lines.push(`high=${r.counts.high} medium=${r.counts.medium} low=${r.counts.low} info=${r.counts.info}`);
  return lines.join('\n') + '\n';
}

/**
 * Audit the application's own spec at boot (`restServer.getApiSpec()`), honouring AUDIT_MODE:
 * enforce => AppError OPENAPI_AUDIT_FAILED on a high finding; warn => log; off => skip.
 * One audit() line either way. Internal `$ref`s only.
 */
export async function auditApplicationSpec(spec: object, mode: EnforceMode, logger: Logger): Promise<AuditReport | null> {
  if (mode === 'off') return null;
  const resolved = await resolveSpecObject(spec);
  const r = auditOpenApi(resolved.document, resolved.issues);
  const high = r.findings.filter(f => f.severity === 'high');
  audit(logger, {
    event: 'openapi.audit',
    decision: high.length === 0 ? 'allow' : mode === 'enforce' ? 'deny' : 'warn',
    ...(high.length > 0 ? {code: 'OPENAPI_AUDIT_FAILED'} : {}),
    mode,
    counts: r.counts,
    high: high.map(f => `${f.ruleId} ${f.method ?? ''} ${f.path ?? ''} ${f.location}`.trim()),
  });
  if (high.length > 0 && mode === 'enforce') {
    throw new AppError('OPENAPI_AUDIT_FAILED', `the OpenAPI audit found ${high.length} high-severity issue(s)`, {findings: high});
  }
  return r;
}
