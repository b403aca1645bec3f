/**
 * Spec-driven cases: cross-reference an OpenAPI 3.x / Swagger 2.0 document with the target's
 * runtime behaviour. For every operation, every string parameter in the path, query, headers and
 * body (recursively through the body schema; JSON and form bodies) gets each payload of the spec
 * payload set (drawn from the catalog; URL-like fields also get SSRF targets), with benign values
 * everywhere else; the expectation is
 * the guard's refusal (a 4xx with a GUARD_ / SSRF_ code in strict mode). Results are reported per
 * operation.
 *
 * `$ref`s: a spec FILE is dereferenced by the OpenAPI audit's confined resolver (src/audit/resolver.ts:
 * only files under the spec's own directory after realpath, regular files, byte caps, a time bound,
 * never the network); any refused `$ref` makes the load fail with OPENAPI_SPEC_REFUSED (a coded,
 * sanitised message). A document served by the TARGET is dereferenced with internal refs only:
 * a target must not be able to make the runner read local files into requests it then receives.
 * Cycles are kept as object cycles and walked with a depth bound.
 */
import path from 'node:path';
import {classifyField, resolveOpenApi} from '../audit/openapi-audit';
import type {EscapeCase, Vector} from './catalog';
import type {ClientCredentials, Endpoint, RawRequest} from './client';

export type SpecSource = {kind: 'file'; file: string} | {kind: 'target'; path?: string};

export interface SpecCase extends Omit<EscapeCase, 'category' | 'vector'> {
  category: 'spec';
  vector: Extract<Vector, 'path' | 'query' | 'header' | 'body'>;
  /** e.g. "POST /echo" */
  operation: string;
  /** e.g. "query:q", "header:X-Trace", "body:/options/socketPath", "path:slug" */
  location: string;
  /** The catalog case whose payload is injected. */
  payloadId: string;
  request: RawRequest;
  /** Refusal codes accepted in strict mode. */
  refusal: RegExp;
}

/**
 * Catalog cases whose payload value is injected into EVERY string parameter: host paths in several
 * encodings, runtime sockets, Docker/Kubernetes API paths, a file: URL and the metadata service
 * (references the guard refuses wherever they appear).
 */
export const SPEC_VALUE_PAYLOAD_IDS: readonly string[] = [
  'HP-038',
  'HP-040',
  'HP-041',
  'HP-043',
  'HP-045',
  'HP-001',
  'HP-011',
  'HP-020',
  'HP-023',
  'HP-035',
  'RS-008',
  'RS-007',
  'DK-015',
  'K8-010',
  'SM-001',
];

/**
 * Added for parameters that denote a URL or host (the OpenAPI audit's classifyField: format uri,
 * names such as url, callback, webhook, endpoint, host): SSRF targets (loopback spellings, IPv4-
 * mapped IPv6, file:, unix socket). A loopback URL in a free-text field is not a request to fetch
 * it, so these are not expected to be refused everywhere.
 */
export const SPEC_URL_PAYLOAD_IDS: readonly string[] = ['SI-001', 'SI-009', 'S6-005', 'SS-001', 'SU-002', 'LC-012'];

export const SPEC_PAYLOAD_IDS: readonly string[] = [...SPEC_VALUE_PAYLOAD_IDS, ...SPEC_URL_PAYLOAD_IDS];

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value a catalog case carries (a body's first string leaf, a query's first value, a URL, a path). */
export function payloadValue(c: EscapeCase): string | undefined {
  switch (c.vector) {
    case 'body': {
      let j: unknown;
      try {
        j = JSON.parse(c.payload);
      } catch {
        return undefined;
      }
      const stack: unknown[] = [j];
      while (stack.length) {
        const v = stack.shift();
        if (typeof v === 'string') return v;
        if (Array.isArray(v)) stack.push(...v);
        else if (isObj(v)) stack.push(...Object.values(v));
      }
      return undefined;
    }
    case 'query': {
      const first = c.payload.split('&')[0];
      const v = first.slice(first.indexOf('=') + 1);
      try {
        return decodeURIComponent(v.replace(/\+/g, ' '));
      } catch {
        return v;
      }
    }
    case 'header':
      return c.payload.slice(c.payload.indexOf(': ') + 2);
    case 'url-param':
    case 'path':
      return c.payload;
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// loading

export interface LoadedSpec {
  document: unknown;
  source: string;
}

export async function loadSpecDocument(
  src: SpecSource,
  target: {endpoint: Endpoint; credentials: ClientCredentials; timeoutMs: number},
): Promise<LoadedSpec> {
  if (src.kind === 'file') {
    // A spec file is the operator's own input: local external $refs are resolved as the OpenAPI audit does.
    return {document: await resolveOpenApi(path.resolve(src.file)), source: src.file};
  }
  const p = src.path ?? '/openapi.json';
  const r = await fetchFullBody(target, p);
  if (r.status !== 200) throw new Error(`GET ${p}: HTTP ${r.status}`);
  let doc: unknown;
  try {
    doc = JSON.parse(r.body);
  } catch {
    throw new Error(`GET ${p}: not JSON`);
  }
  if (!isObj(doc)) throw new Error(`GET ${p}: not a JSON object`);
  // Internal $refs only (no baseDir): a document from the target must not read local files.
  return {document: await resolveOpenApi(doc), source: `target ${p}`};
}

/** GET a (possibly large, up to 16 MiB) document over mTLS; the runner's usual client keeps only an excerpt. */
async function fetchFullBody(
  target: {endpoint: Endpoint; credentials: ClientCredentials; timeoutMs: number},
  p: string,
): Promise<{status: number; body: string}> {
  const tls = await import('node:tls');
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const e = target.endpoint;
    const socket = tls.connect({
      host: e.host,
      port: e.port,
      ca: e.ca,
      cert: target.credentials.cert,
      key: target.credentials.key,
      servername: e.servername ?? (net.isIP(e.host) ? undefined : e.host),
      rejectUnauthorized: true,
      ALPNProtocols: ['http/1.1'],
    });
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => socket.destroy(new Error('timeout')), target.timeoutMs);
    socket.once('secureConnect', () => socket.write(`GET ${p} HTTP/1.1\r\nHost: ${e.host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`));
    socket.on('data', (d: Buffer) => {
      size += d.length;
      if (size > 16 * 1024 * 1024) socket.destroy(new Error('spec larger than 16 MiB'));
      else chunks.push(d);
    });
    socket.on('error', err => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const buf = Buffer.concat(chunks);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error('no HTTP response'));
      const head = buf.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      let body = buf.subarray(end + 4);
      if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        const parts: Buffer[] = [];
        let rest = body;
        for (;;) {
          const le = rest.indexOf('\r\n');
          if (le < 0) break;
          const n = parseInt(rest.subarray(0, le).toString('latin1'), 16);
          if (!n) break;
          parts.push(rest.subarray(le + 2, le + 2 + n));
          rest = rest.subarray(le + 2 + n + 2);
        }
        body = Buffer.concat(parts);
      }
      resolve({status, body: body.toString('utf8')});
    });
  });
}

// ---------------------------------------------------------------------------------------------
// operations and injection points

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];
const MAX_DEPTH = 8;

interface Param {
  name: string;
  in: 'path' | 'query' | 'header' | 'body' | 'formData' | 'cookie';
  required: boolean;
  schema: unknown;
}

interface Operation {
  method: string;
  path: string;
  params: Param[];
  /** Body schema and media type (OAS3 requestBody or Swagger 2 body/formData). */
  body?: {mediaType: 'application/json' | 'application/x-www-form-urlencoded'; schema: unknown; required: boolean};
}

function paramSchema(p: Record<string, unknown>): unknown {
  if (p.schema !== undefined) return p.schema; // OAS3, Swagger 2 body
  return {type: p.type, enum: p.enum, format: p.format, items: p.items}; // Swagger 2 non-body
}

export function listOperations(doc: unknown): Operation[] {
  if (!isObj(doc) || !isObj(doc.paths)) throw new Error('not an OpenAPI/Swagger document (no paths object)');
  const swagger2 = typeof doc.swagger === 'string';
  const ops: Operation[] = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    if (!isObj(item)) continue;
    const shared = Array.isArray(item.parameters) ? item.parameters.filter(isObj) : [];
    for (const m of HTTP_METHODS) {
      const op = item[m];
      if (!isObj(op)) continue;
      const own = Array.isArray(op.parameters) ? op.parameters.filter(isObj) : [];
      const byKey = new Map<string, Record<string, unknown>>();
      for (const prm of [...shared, ...own]) byKey.set(`${String(prm.in)}:${String(prm.name)}`, prm);
      const params: Param[] = [];
      let body: Operation['body'];
      const form: Record<string, unknown> = {};
      const formRequired: string[] = [];
      for (const prm of byKey.values()) {
        const where = prm.in as Param['in'];
        if (swagger2 && where === 'body') {
          body = {mediaType: 'application/json', schema: prm.schema, required: prm.required === true};
          continue;
        }
        if (swagger2 && where === 'formData') {
          form[String(prm.name)] = paramSchema(prm);
          if (prm.required === true) formRequired.push(String(prm.name));
          continue;
        }
        params.push({name: String(prm.name), in: where, required: prm.required === true || where === 'path', schema: paramSchema(prm)});
      }
      if (Object.keys(form).length > 0) {
        body = {
          mediaType: 'application/x-www-form-urlencoded',
          schema: {type: 'object', properties: form, required: formRequired},
          required: formRequired.length > 0,
        };
      }
      if (!swagger2 && isObj(op.requestBody) && isObj(op.requestBody.content)) {
        const content = op.requestBody.content;
        const mt =
          Object.keys(content).find(k => /^application\/(.+\+)?json\b/.test(k)) ??
          Object.keys(content).find(k => k.startsWith('application/x-www-form-urlencoded'));
        if (mt && isObj(content[mt])) {
          body = {
            mediaType: mt.includes('json') ? 'application/json' : 'application/x-www-form-urlencoded',
            schema: (content[mt] as Record<string, unknown>).schema ?? {type: 'object'},
            required: op.requestBody.required === true,
          };
        }
      }
      ops.push({method: m.toUpperCase(), path: p, params, body});
    }
  }
  return ops;
}

function typeOf(schema: unknown): string | undefined {
  if (!isObj(schema)) return undefined;
  if (typeof schema.type === 'string') return schema.type;
  if (Array.isArray(schema.type)) return schema.type.find(t => t !== 'null') as string | undefined;
  if (isObj(schema.properties)) return 'object';
  return undefined;
}

function mergedSchema(schema: unknown): Record<string, unknown> {
  if (!isObj(schema)) return {};
  // allOf: merge properties; oneOf/anyOf: take the first alternative.
  if (Array.isArray(schema.allOf)) {
    const props: Record<string, unknown> = {};
    const required: string[] = [];
    for (const s of schema.allOf) {
      const m = mergedSchema(s);
      Object.assign(props, isObj(m.properties) ? m.properties : {});
      if (Array.isArray(m.required)) required.push(...(m.required as string[]));
    }
    return {...schema, type: 'object', properties: props, required};
  }
  for (const k of ['oneOf', 'anyOf']) {
    const alts = schema[k];
    if (Array.isArray(alts) && alts.length > 0)
      return {...mergedSchema(alts[0]), ...Object.fromEntries(Object.entries(schema).filter(([kk]) => kk !== k))};
  }
  return schema;
}

/** A benign value for a schema (first enum value, a small number, 'x'). */
export function benignValue(schema: unknown, depth = 0): unknown {
  const s = mergedSchema(schema);
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if (s.default !== undefined && typeof s.default !== 'object') return s.default;
  switch (typeOf(s)) {
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 1;
    case 'boolean':
      return true;
    case 'array':
      return depth >= MAX_DEPTH ? [] : [benignValue(s.items, depth + 1)];
    case 'object': {
      const out: Record<string, unknown> = {};
      if (depth >= MAX_DEPTH) return out;
      const props = isObj(s.properties) ? s.properties : {};
      const req = Array.isArray(s.required) ? (s.required as string[]) : [];
      for (const k of req) out[k] = benignValue(props[k], depth + 1);
      return out;
    }
    default:
      return s.format === 'uri' || s.format === 'url' ? 'https://public.test/' : 'x';
  }
}

/** JSON pointers (as key paths) of every string field of a body schema, recursively. */
export function stringFields(schema: unknown, maxFields = 200): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [];
  const walk = (s: unknown, at: Array<string | number>, depth: number, seen: Set<unknown>) => {
    if (out.length >= maxFields || depth > MAX_DEPTH || seen.has(s)) return;
    const m = mergedSchema(s);
    const t = typeOf(m);
    if (t === 'string' || (t === undefined && at.length > 0 && !isObj(m.properties))) {
      out.push(at);
      return;
    }
    const next = new Set(seen).add(s);
    if (t === 'object') {
      for (const [k, v] of Object.entries(isObj(m.properties) ? m.properties : {})) walk(v, [...at, k], depth + 1, next);
      if (Object.keys(isObj(m.properties) ? m.properties : {}).length === 0 && at.length === 0) out.push(['value']);
    } else if (t === 'array') {
      walk(m.items, [...at, 0], depth + 1, next);
    }
  };
  walk(schema, [], 0, new Set());
  return out;
}

/** The schema of the field at a key path (for classification). */
function schemaAt(schema: unknown, at: ReadonlyArray<string | number>): unknown {
  let s: unknown = schema;
  for (const k of at) {
    const m = mergedSchema(s);
    s = typeof k === 'number' ? m.items : isObj(m.properties) ? m.properties[k] : undefined;
  }
  return s;
}

function setAt(root: unknown, at: Array<string | number>, value: unknown): unknown {
  if (at.length === 0) return value;
  const [k, ...rest] = at;
  const base: Record<string | number, unknown> | unknown[] =
    typeof k === 'number' ? (Array.isArray(root) ? [...root] : []) : isObj(root) ? {...root} : {};
  (base as Record<string | number, unknown>)[k] = setAt((base as Record<string | number, unknown>)[k], rest, value);
  return base;
}

function formEncode(obj: unknown): string {
  if (!isObj(obj)) return '';
  return Object.entries(obj)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v))}`)
    .join('&');
}

// eslint-disable-next-line no-control-regex
const HEADER_UNSAFE = /[\u0000-\u001f\u007f]/;

function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(values[name] ?? 'x'));
}

function isStringParam(p: Param): boolean {
  const t = typeOf(mergedSchema(p.schema));
  return t === 'string' || t === undefined;
}

export interface BuiltSpecCases {
  cases: SpecCase[];
  operations: number;
}

export function buildSpecCases(doc: unknown, catalog: readonly EscapeCase[]): BuiltSpecCases {
  const ops = listOperations(doc);
  const pick = (ids: readonly string[]) =>
    ids.map(id => {
      const c = catalog.find(x => x.id === id);
      const value = c ? payloadValue(c) : undefined;
      if (!c || value === undefined) throw new Error(`spec payload ${id}: not in the catalog or no value`);
      return {c, value};
    });
  const valuePayloads = pick(SPEC_VALUE_PAYLOAD_IDS);
  const urlPayloads = [...valuePayloads, ...pick(SPEC_URL_PAYLOAD_IDS)];
  const cases: SpecCase[] = [];
  for (const op of ops) {
    const operation = `${op.method} ${op.path}`;
    const benign: Record<string, string> = {};
    for (const p of op.params) benign[`${p.in}:${p.name}`] = String(benignValue(p.schema));
    const bodyBase = op.body ? benignValue(op.body.schema) : undefined;

    const build = (inject: {param?: Param; bodyAt?: Array<string | number>}, value: string): RawRequest => {
      const pathValues: Record<string, string> = {};
      const query: string[] = [];
      const headers: Array<[string, string]> = [];
      for (const p of op.params) {
        const v = inject.param === p ? value : benign[`${p.in}:${p.name}`];
        if (p.in === 'path') pathValues[p.name] = v;
        else if (p.in === 'query' && (p.required || inject.param === p)) query.push(`${encodeURIComponent(p.name)}=${encodeURIComponent(v)}`);
        else if (p.in === 'header' && (p.required || inject.param === p)) headers.push([p.name, v]);
        else if (p.in === 'cookie' && (p.required || inject.param === p)) headers.push(['Cookie', `${p.name}=${encodeURIComponent(v)}`]);
      }
      let body: Buffer | undefined;
      if (op.body) {
        const obj = inject.bodyAt ? setAt(bodyBase, inject.bodyAt, value) : bodyBase;
        if (op.body.mediaType === 'application/json') body = Buffer.from(JSON.stringify(obj ?? {}), 'utf8');
        else body = Buffer.from(formEncode(obj), 'utf8');
        headers.push(['Content-Type', op.body.mediaType]);
      }
      const target = fillPath(op.path, pathValues) + (query.length ? `?${query.join('&')}` : '');
      return {method: op.method, target, headers, body};
    };

    const points: Array<{location: string; vector: SpecCase['vector']; url: boolean; param?: Param; bodyAt?: Array<string | number>}> = [];
    for (const p of op.params) {
      if (!isStringParam(p) || p.in === 'cookie') continue;
      if (p.in === 'path' || p.in === 'query' || p.in === 'header') {
        points.push({location: `${p.in}:${p.name}`, vector: p.in, url: classifyField(p.name, mergedSchema(p.schema)) === 'url', param: p});
      }
    }
    if (op.body) {
      for (const at of stringFields(op.body.schema)) {
        const name = String([...at].reverse().find(k => typeof k === 'string') ?? '');
        points.push({
          location: `body:/${at.join('/')}`,
          vector: 'body',
          url: classifyField(name, schemaAt(op.body.schema, at)) === 'url',
          bodyAt: at,
        });
      }
    }
    for (const pt of points) {
      for (const {c, value} of pt.url ? urlPayloads : valuePayloads) {
        if (pt.vector === 'header' && HEADER_UNSAFE.test(value)) continue;
        cases.push({
          id: `SPEC ${operation} ${pt.location} ${c.id}`,
          refId: null,
          source: 'this project',
          category: 'spec',
          vector: pt.vector,
          payload: value,
          method: op.method,
          expected: 'reject',
          expect_detail: '4xx',
          reference: `spec-driven: ${c.id} (${c.reference})`,
          operation,
          location: pt.location,
          payloadId: c.id,
          request: build(pt, value),
          refusal: /^(GUARD_|SSRF_)/,
        });
      }
    }
  }
  return {cases, operations: ops.length};
}
