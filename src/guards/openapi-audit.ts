/**
 * OpenAPI audit: does a service's API let an authenticated caller steer it at the host, the
 * container runtime or an internal network? Works on OpenAPI 3.x and Swagger 2.0 documents.
 *
 * `auditOpenApi(spec)` is pure: it takes an already dereferenced document (object cycles from
 * recursive schemas are fine) and returns findings. `resolveOpenApi()` / `auditOpenApiFile()` do
 * the I/O: @apidevtools/json-schema-ref-parser dereferences internal and external `$ref`s (files
 * only: HTTP resolution is switched off, an audit must not fetch URLs named by the document it
 * audits) and keeps circular references as object cycles.
 *
 * Rules (ids, severities) are data: OPENAPI_AUDIT_RULES. Operation extensions understood:
 * - `x-mtls-exempt: true` (operation or path item): the route is exempt from mTLS authentication;
 * - `x-outbound-client: true` (operation): URL-like inputs of this operation are only ever fetched
 *   through the SSRF-safe OutboundClient (src/guards/outbound-client.ts).
 *
 * `classifyField()` is shared with the URL-parameter interceptor (url-param.interceptor.ts).
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import YAML from 'yaml';
import {$RefParser} from '@apidevtools/json-schema-ref-parser';
import type {EnforceMode} from '../config/config';
import {AppError} from '../errors';
import {audit, Logger} from '../logging/logger';
import {inspectTargetPath} from './request-policy';
import {GUARD_RULES} from './rules';

export type Severity = 'high' | 'medium' | 'low' | 'info';

export interface AuditRule {
  readonly id: string;
  readonly severity: Severity;
  readonly description: string;
}

export const OPENAPI_AUDIT_RULES = {
  'OA-NOT-OPENAPI': {id: 'OA-NOT-OPENAPI', severity: 'high', description: 'The document is neither OpenAPI 3.x nor Swagger 2.0 (no version field or no paths object).'},
  'OA-AUTH-EXEMPT': {id: 'OA-AUTH-EXEMPT', severity: 'high', description: 'The operation is exempt from authentication (`security: []` or `x-mtls-exempt: true`).'},
  'OA-AUTH-UNDECLARED': {id: 'OA-AUTH-UNDECLARED', severity: 'low', description: 'Neither the operation nor the document declares a security requirement.'},
  'OA-CONTAINER-MGMT-PATH': {id: 'OA-CONTAINER-MGMT-PATH', severity: 'high', description: 'The operation path matches a container-management or host path pattern (Docker Engine API, Kubernetes API/kubelet, runtime socket, /proc, /sys, ...).'},
  'OA-URL-PARAM-UNGUARDED': {id: 'OA-URL-PARAM-UNGUARDED', severity: 'high', description: 'A parameter or body field denotes a URL/host (format uri, or a name such as url, callback, webhook, endpoint, host) and the operation is not marked `x-outbound-client: true`.'},
  'OA-SOCKET-PARAM': {id: 'OA-SOCKET-PARAM', severity: 'high', description: 'A parameter or body field denotes a socket (socketPath, dockerHost, ...).'},
  'OA-CONTAINER-ID-PARAM': {id: 'OA-CONTAINER-ID-PARAM', severity: 'high', description: 'A parameter or body field denotes a container, pod or exec instance.'},
  'OA-HOST-PATH-PARAM': {id: 'OA-HOST-PATH-PARAM', severity: 'medium', description: 'A parameter or body field denotes a file-system path (path, file, dir, volume, mount, hostPath, ...).'},
  'OA-UNRESOLVED-REF': {id: 'OA-UNRESOLVED-REF', severity: 'medium', description: 'A `$ref` is left unresolved, so part of the API could not be audited.'},
} as const satisfies Record<string, AuditRule>;
export type AuditRuleId = keyof typeof OPENAPI_AUDIT_RULES;

export interface AuditFinding {
  readonly ruleId: AuditRuleId;
  readonly severity: Severity;
  /** Upper-case HTTP method, when the finding is about an operation. */
  readonly method?: string;
  readonly path?: string;
  /** e.g. 'operation', 'parameter:query:url', 'requestBody:application/json#/properties/callback'. */
  readonly location: string;
  readonly message: string;
}

export interface AuditReport {
  readonly format: 'openapi-3' | 'swagger-2' | 'unknown';
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
const URL_LAST_WORDS = new Set(['url', 'uri', 'urls', 'uris', 'href', 'callback', 'callbacks', 'webhook', 'webhooks', 'endpoint', 'endpoints', 'host', 'hostname', 'origin', 'proxy', 'upstream', 'redirect']);
const PATH_LAST_WORDS = new Set(['path', 'paths', 'file', 'files', 'filename', 'filepath', 'dir', 'dirs', 'directory', 'folder', 'volume', 'volumes', 'mount', 'mounts', 'mountpoint', 'bind', 'binds', 'logdir', 'hostpath']);

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
  const last = w[w.length - 1] ?? '';
  if (URL_FORMATS.has(fmt) || URL_LAST_WORDS.has(last) || w.includes('webhook') || w.includes('callback')) return 'url';
  if (PATH_LAST_WORDS.has(last) || joined === 'hostpath') return 'host-path';
  return null;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const KIND_RULE: Record<SensitiveKind, AuditRuleId> = {
  url: 'OA-URL-PARAM-UNGUARDED',
  socket: 'OA-SOCKET-PARAM',
  'container-id': 'OA-CONTAINER-ID-PARAM',
  'host-path': 'OA-HOST-PATH-PARAM',
};

class Audit {
  readonly findings: AuditFinding[] = [];
  add(ruleId: AuditRuleId, location: string, message: string, method?: string, p?: string): void {
    this.findings.push({ruleId, severity: OPENAPI_AUDIT_RULES[ruleId].severity, location, message, ...(method ? {method} : {}), ...(p !== undefined ? {path: p} : {})});
  }
}

/** Walk a schema (cycle-safe, bounded) and report every property whose name/schema is sensitive. */
function walkSchema(schema: unknown, pointer: string, visit: (name: string, s: unknown, ptr: string) => void, seen: WeakSet<object>, depth = 0): void {
  if (!isObj(schema) || depth > 32 || seen.has(schema)) return;
  seen.add(schema);
  if (isObj(schema.properties)) {
    for (const [name, s] of Object.entries(schema.properties)) {
      const ptr = `${pointer}/properties/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      visit(name, s, ptr);
      walkSchema(s, ptr, visit, seen, depth + 1);
    }
  }
  if (isObj(schema.items)) walkSchema(schema.items, `${pointer}/items`, visit, seen, depth + 1);
  if (isObj(schema.additionalProperties)) walkSchema(schema.additionalProperties, `${pointer}/additionalProperties`, visit, seen, depth + 1);
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
    const list = schema[k];
    if (Array.isArray(list)) list.forEach((s, i) => walkSchema(s, `${pointer}/${k}/${i}`, visit, seen, depth + 1));
  }
}

/** Find `$ref`s left in the document (cycle-safe). */
function leftoverRefs(doc: unknown): string[] {
  const out: string[] = [];
  const seen = new WeakSet<object>();
  const walk = (v: unknown, ptr: string, depth: number) => {
    if (v === null || typeof v !== 'object' || seen.has(v) || depth > 64 || out.length > 20) return;
    seen.add(v);
    if (isObj(v) && typeof v.$ref === 'string') out.push(ptr || '/');
    for (const [k, c] of Object.entries(v)) walk(c, `${ptr}/${k}`, depth + 1);
  };
  walk(doc, '', 0);
  return out;
}

/** Rule id when an operation path matches a container-management / host path rule. */
export function containerPathRule(template: string): string | null {
  const concrete = template.replace(/\{[^}/]*\}/g, 'param');
  const f = inspectTargetPath(concrete.startsWith('/') ? concrete : `/${concrete}`);
  if (!f || f.code !== 'GUARD_DENIED_REFERENCE') return null;
  const rule = GUARD_RULES.find(r => r.id === f.ruleId);
  return rule && rule.category !== 'path-traversal' ? rule.id : null;
}

/** The audit. Pure over a dereferenced document; never throws. */
export function auditOpenApi(doc: unknown): AuditReport {
  const a = new Audit();
  const format = isObj(doc) && typeof doc.openapi === 'string' && doc.openapi.startsWith('3.') ? 'openapi-3'
    : isObj(doc) && doc.swagger === '2.0' ? 'swagger-2'
    : 'unknown';
  let operations = 0;
  if (format === 'unknown' || !isObj(doc) || !isObj(doc.paths)) {
    a.add('OA-NOT-OPENAPI', 'document', 'not an OpenAPI 3.x or Swagger 2.0 document');
    return report(format, 0, a.findings);
  }
  const rootSecurity = doc.security;
  const basePath = format === 'swagger-2' && typeof doc.basePath === 'string' ? doc.basePath.replace(/\/$/, '') : '';

  for (const [p, item] of Object.entries(doc.paths)) {
    if (!isObj(item)) continue;
    const pathParams = Array.isArray(item.parameters) ? item.parameters : [];
    for (const method of METHODS) {
      const op = item[method];
      if (!isObj(op)) continue;
      operations++;
      const M = method.toUpperCase();
      const fullPath = `${basePath}${p}`;

      // authentication
      const security = op.security !== undefined ? op.security : rootSecurity;
      if (op['x-mtls-exempt'] === true || item['x-mtls-exempt'] === true) {
        a.add('OA-AUTH-EXEMPT', 'operation', 'x-mtls-exempt: true', M, fullPath);
      } else if (Array.isArray(security) && security.length === 0) {
        a.add('OA-AUTH-EXEMPT', 'operation', 'security: []', M, fullPath);
      } else if (security === undefined) {
        a.add('OA-AUTH-UNDECLARED', 'operation', 'no security requirement declared', M, fullPath);
      }

      // path pattern
      const rule = containerPathRule(fullPath);
      if (rule) a.add('OA-CONTAINER-MGMT-PATH', 'operation', `path matches guard rule ${rule}`, M, fullPath);

      // inputs
      const guarded = op['x-outbound-client'] === true;
      const report1 = (kind: SensitiveKind | null, location: string) => {
        if (!kind || (kind === 'url' && guarded)) return;
        a.add(KIND_RULE[kind], location, `${kind} input`, M, fullPath);
      };
      const opParams = Array.isArray(op.parameters) ? op.parameters : [];
      const merged = new Map<string, Json>();
      for (const prm of [...pathParams, ...opParams]) if (isObj(prm)) merged.set(`${String(prm.in)}:${String(prm.name)}`, prm);
      for (const prm of merged.values()) {
        const name = String(prm.name ?? '');
        const loc = `parameter:${String(prm.in)}:${name}`;
        if (prm.in === 'body') {
          report1(classifyField(name, prm.schema), loc);
          walkSchema(prm.schema, `${loc}#`, (n, s, ptr) => report1(classifyField(n, s), ptr), new WeakSet());
        } else {
          report1(classifyField(name, isObj(prm.schema) ? prm.schema : prm), loc);
        }
      }
      if (isObj(op.requestBody) && isObj(op.requestBody.content)) {
        for (const [media, mt] of Object.entries(op.requestBody.content)) {
          if (!isObj(mt)) continue;
          walkSchema(mt.schema, `requestBody:${media}#`, (n, s, ptr) => report1(classifyField(n, s), ptr), new WeakSet());
        }
      }
    }
  }
  for (const ref of leftoverRefs(doc)) a.add('OA-UNRESOLVED-REF', ref, 'unresolved $ref');
  return report(format, operations, a.findings);
}

function report(format: AuditReport['format'], operations: number, findings: AuditFinding[]): AuditReport {
  const counts: Record<Severity, number> = {high: 0, medium: 0, low: 0, info: 0};
  for (const f of findings) counts[f.severity]++;
  return {format, operations, findings, counts};
}

export interface ResolveOptions {
  /** Base for relative external `$ref`s when `source` is an object (default: cwd). */
  baseDir?: string;
}

/**
 * Dereference internal and external `$ref`s (local files only; cycles kept as object cycles).
 * `source` is a file path (JSON or YAML) or an already parsed document.
 */
export async function resolveOpenApi(source: string | object, opts: ResolveOptions = {}): Promise<object> {
  let doc: object;
  let basePath: string;
  if (typeof source === 'string') {
    basePath = path.resolve(source);
    const text = await fs.readFile(basePath, 'utf8');
    doc = YAML.parse(text) as object; // YAML 1.2 is a superset of JSON
    if (!isObj(doc)) throw new Error(`${source}: not a JSON/YAML object`);
  } else {
    doc = structuredClone(source);
    basePath = path.join(path.resolve(opts.baseDir ?? process.cwd()), 'openapi.json');
  }
  const options = {resolve: {external: true, http: false}, dereference: {circular: true}};
  return (await $RefParser.dereference(basePath, doc as never, options as never)) as unknown as object;
}

export async function auditOpenApiFile(file: string): Promise<AuditReport> {
  return auditOpenApi(await resolveOpenApi(file));
}

export function formatReportText(r: AuditReport, source = ''): string {
  const lines = [`OpenAPI audit${source ? ` of ${source}` : ''}: ${r.format}, ${r.operations} operation(s)`];
  for (const f of r.findings) {
    const where = f.method ? `${f.method} ${f.path} ` : '';
    lines.push(`  [${f.severity.toUpperCase()}] ${f.ruleId} ${where}(${f.location}): ${f.message}`);
  }
  lines.push(`high=${r.counts.high} medium=${r.counts.medium} low=${r.counts.low} info=${r.counts.info}`);
  return lines.join('\n') + '\n';
}

/**
 * Audit the application's own spec at boot (`restServer.getApiSpec()`), honouring AUDIT_MODE:
 * enforce => AppError OPENAPI_AUDIT_FAILED on a high finding; warn => log; off => skip.
 * One audit() line either way.
 */
export async function auditApplicationSpec(spec: object, mode: EnforceMode, logger: Logger): Promise<AuditReport | null> {
  if (mode === 'off') return null;
  const r = auditOpenApi(await resolveOpenApi(spec));
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
