/**
 * The escape-attempt catalog: data (catalog.json next to this file), its types, validation and
 * the category/vector vocabulary the runner, the reports and docs/escape-suite.md share.
 *
 * Every case of the reference catalog (../shared/escape-reference/catalog.json, 318 cases) is
 * present exactly once with `refId` = the reference id (and `id` = the same id); cases this
 * project adds have `refId: null`, `source: 'this project'` and ids starting with `HM-`.
 * test/escape/catalog.test.ts keeps the mapping honest.
 *
 * Pure module: no LoopBack imports, no I/O (the JSON is compiled in).
 */
import catalogData from './catalog.json';

export const VECTORS = ['tls', 'path', 'query', 'header', 'body', 'url-param', 'runtime'] as const;
export type Vector = (typeof VECTORS)[number];

export const EXPECT_DETAILS = [
  '4xx',
  'handshake',
  'handshake|4xx',
  'denied',
  '4xx|no-follow',
  'no-internal-connection',
  '2xx',
  'guard-pass',
] as const;
export type ExpectDetail = (typeof EXPECT_DETAILS)[number];

/** What each expectation means (shown in the reports and in docs/escape-suite.md). */
export const EXPECT_DETAIL_DOC: Readonly<Record<ExpectDetail, string>> = {
  '4xx': 'The service answers 400-499 (never 2xx, never 5xx); in strict mode with a refusal code (GUARD_*, SSRF_*, AUTH_*) or from the HTTP parser.',
  handshake: 'No HTTP response byte comes back (TLS alert, reset or EOF after the handshake).',
  'handshake|4xx': 'No HTTP response, or a 401/403 from the application-layer certificate check.',
  denied: 'Runtime probe: the escape primitive is unavailable and the posture check reports the finding compliant.',
  '4xx|no-follow': 'The SSRF client does not follow the redirect: a 4xx, or the upstream 3xx passed back; no canary connection.',
  'no-internal-connection': 'Whatever the status, the internal canary receives no connection (DNS rebinding).',
  '2xx': 'Benign control: the service answers 200-299.',
  'guard-pass': 'Benign control: the SSRF guard lets the request through and the fake public upstream receives exactly one request.',
};

export const CATEGORIES = [
  'mtls',
  'path-traversal',
  'host-path',
  'docker-api',
  'k8s-api',
  'runtime-socket',
  'ssrf-loopback-encoding',
  'ssrf-ipv6',
  'ssrf-metadata',
  'ssrf-dns',
  'ssrf-redirect',
  'ssrf-unix-socket',
  'ssrf-scheme',
  'ssrf-authority-confusion',
  'ssrf-library-cve',
  'runtime-posture',
  'benign-control',
  'authz',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** One line per category for the reports and the QA guide. */
export const CATEGORY_DOC: Readonly<Record<Category, string>> = {
  mtls: 'Client-certificate identity and revocation (expired, revoked, untrusted, wrong SAN, EKU, CA:TRUE, weak keys) and TLS downgrade / weak cipher suites.',
  'path-traversal': 'Encoded, overlong, mangled and case-folded ../ sequences in the request path.',
  'host-path': 'References to host files (/proc, /sys, /dev, secrets, kubeconfig) in path, query, headers and bodies.',
  'docker-api': 'Docker Engine API routes and request bodies (containers/create, exec, images) sent to the service or through it.',
  'k8s-api': 'Kubernetes API server, kubelet, etcd and kubectl-proxy routes sent to the service or through it.',
  'runtime-socket': 'Container-runtime sockets (docker, containerd, CRI-O, podman) named in requests.',
  'ssrf-loopback-encoding': 'Loopback addresses in every IPv4 spelling (octal, hex, dword, short forms, fullwidth digits).',
  'ssrf-ipv6': 'IPv6 loopback, unspecified, IPv4-mapped/compatible, NAT64/6to4, link-local and unique-local forms.',
  'ssrf-metadata': 'Cloud instance-metadata services (AWS, GCP, Azure, Alibaba, Oracle, Tencent) by address and name.',
  'ssrf-dns': 'Host names that resolve to internal addresses, mixed answers and DNS rebinding (stub resolver).',
  'ssrf-redirect': 'A public upstream that redirects to an internal target: redirects must not be followed.',
  'ssrf-unix-socket': 'URL forms that address a unix socket (got/requests-unixsocket/DOCKER_HOST styles).',
  'ssrf-scheme': 'Non-HTTP schemes (file, gopher, dict, ftp, ldap, data, ws, ...).',
  'ssrf-authority-confusion': 'URLs that parsers split differently (userinfo, backslashes, fragments, whitespace, CRLF).',
  'ssrf-library-cve': 'Inputs behind published SSRF-filter CVEs (ip, netmask, private-ip, ip-address, ipaddr.js).',
  'runtime-posture':
    'Runtime probes inside the target: non-root, no capabilities, no_new_privs, seccomp, read-only root, no runtime socket, no service-account token, also for a child process.',
  'benign-control': 'Ordinary requests that look suspicious: they must pass (guards must not over-block).',
  authz:
    'Authorization per operation: an admitted identity calling what its role does not allow, the operator\'s SAN on a certificate from a second CA, routes without policy, and method/path variants of a protected operation (HEAD, trailing slash, case, encoded characters, ";" parameters, X-HTTP-Method-Override); each must be refused with an AUTHZ_ (or AUTH_) code.',
};

/** Refusal codes an authz case accepts (strict mode): the authorizer's, the authenticator's, CORS, or the request guard's (an encoded variant it stops first). */
export const AUTHZ_REFUSAL = /^(AUTHZ_|AUTH_|CORS_|GUARD_)/;

export interface DnsSequence {
  sequence: string[][];
  ttl?: number;
}
export type DnsAnswers = Record<string, string[] | DnsSequence>;

export interface UpstreamSpec {
  status: number;
  location?: string;
}

export interface TlsClientOptions {
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
}

export interface TlsSetup {
  /** Scenario certificate to present (file stem in --scenario-certs); null = no client certificate. */
  scenario: string | null;
  /** Send the certificate followed by its issuer (<scenario>.chain.crt). */
  sendChain?: boolean;
  client?: TlsClientOptions;
  /** 'plain': a plain HTTP/1.1 request to the TLS port. */
  transport?: 'plain';
}

export type RuntimeProbe = {covers: string} | {probe: 'child-process'};

/** An authz case: the path-vector request (method, payload = request target) sent as another identity. */
export interface AuthzSetup {
  /** Scenario certificate to present (file stem in --scenario-certs), e.g. valid2, second-ca-operator. */
  as: string;
  headers?: [string, string][];
  /** Request body (UTF-8), sent with Content-Type application/json unless a header sets it. */
  body?: string;
}

export interface EscapeCase {
  id: string;
  /** The reference catalog id, or null for cases this project adds. */
  refId: string | null;
  source: 'reference catalog' | 'this project';
  category: Category;
  vector: Vector;
  payload: string;
  expected: 'reject' | 'allow';
  expect_detail: ExpectDetail;
  /** The public reference the case comes from (or why this project added it). */
  reference: string;
  method?: string;
  content_type?: string;
  dns?: DnsAnswers;
  upstream?: UpstreamSpec;
  notes?: string;
  tls?: TlsSetup;
  runtime?: RuntimeProbe;
  authz?: AuthzSetup;
}

export interface EscapeCatalog {
  version: number;
  reference: {file: string; sha256: string; cases: number};
  cases: readonly EscapeCase[];
}

/** Placeholder in url-param payloads replaced by the harness's unix-socket canary path. */
export const UNIX_CANARY_PLACEHOLDER = '{{unix-canary}}';

export class CatalogError extends Error {}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

function checkDns(id: string, dns: unknown): void {
  if (!isObj(dns)) throw new CatalogError(`${id}: dns must be an object`);
  for (const [name, answer] of Object.entries(dns)) {
    const ok = (a: unknown) => Array.isArray(a) && a.every(x => typeof x === 'string');
    if (ok(answer)) continue;
    if (isObj(answer) && Array.isArray(answer.sequence) && answer.sequence.length > 0 && answer.sequence.every(ok)) continue;
    throw new CatalogError(`${id}: dns answer for ${name} must be a list of addresses or {sequence}`);
  }
}

/** Validates one case (shape and vocabulary); throws CatalogError naming the case. */
export function validateCase(raw: unknown): EscapeCase {
  if (!isObj(raw)) throw new CatalogError('a case is not an object');
  const id = typeof raw.id === 'string' ? raw.id : '?';
  const str = (k: string) => {
    if (typeof raw[k] !== 'string' || raw[k] === '') throw new CatalogError(`${id}: ${k} must be a non-empty string`);
    return raw[k] as string;
  };
  str('id');
  str('payload');
  str('reference');
  if (!(CATEGORIES as readonly string[]).includes(str('category'))) throw new CatalogError(`${id}: unknown category ${String(raw.category)}`);
  if (!(VECTORS as readonly string[]).includes(str('vector'))) throw new CatalogError(`${id}: unknown vector ${String(raw.vector)}`);
  if (raw.expected !== 'reject' && raw.expected !== 'allow') throw new CatalogError(`${id}: expected must be reject or allow`);
  if (!(EXPECT_DETAILS as readonly string[]).includes(str('expect_detail')))
    throw new CatalogError(`${id}: unknown expect_detail ${String(raw.expect_detail)}`);
  const allowDetails = ['2xx', 'guard-pass'];
  if ((raw.expected === 'allow') !== allowDetails.includes(raw.expect_detail as string)) {
    throw new CatalogError(`${id}: expect_detail ${String(raw.expect_detail)} does not fit expected ${String(raw.expected)}`);
  }
  if (raw.source === 'reference catalog') {
    if (typeof raw.refId !== 'string' || raw.refId === '') throw new CatalogError(`${id}: a reference case needs refId`);
  } else if (raw.source === 'this project') {
    if (raw.refId !== null) throw new CatalogError(`${id}: a case this project adds has refId null`);
    if (!id.startsWith('HM-')) throw new CatalogError(`${id}: ids of cases this project adds start with HM-`);
  } else {
    throw new CatalogError(`${id}: source must be 'reference catalog' or 'this project'`);
  }
  if (raw.method !== undefined && !METHODS.includes(raw.method as string)) throw new CatalogError(`${id}: unsupported method`);
  if (raw.content_type !== undefined) str('content_type');
  if (raw.dns !== undefined) checkDns(id, raw.dns);
  if (raw.upstream !== undefined) {
    if (!isObj(raw.upstream) || typeof raw.upstream.status !== 'number') throw new CatalogError(`${id}: upstream needs a status`);
  }
  if (raw.vector === 'tls') {
    const t = raw.tls;
    if (!isObj(t) || !(t.scenario === null || (typeof t.scenario === 'string' && /^[a-z0-9-]+$/.test(t.scenario)))) {
      throw new CatalogError(`${id}: a tls case needs tls.scenario (a file stem or null)`);
    }
    if (t.client !== undefined) {
      if (!isObj(t.client)) throw new CatalogError(`${id}: tls.client must be an object`);
      for (const k of ['minVersion', 'maxVersion']) {
        if (t.client[k] !== undefined && !TLS_VERSIONS.includes(t.client[k] as string)) throw new CatalogError(`${id}: tls.client.${k} invalid`);
      }
    }
    if (t.transport !== undefined && t.transport !== 'plain') throw new CatalogError(`${id}: tls.transport must be 'plain'`);
  } else if (raw.tls !== undefined) {
    throw new CatalogError(`${id}: tls setup on a ${String(raw.vector)} case`);
  }
  if (raw.vector === 'runtime') {
    const r = raw.runtime;
    const ok = isObj(r) && ((typeof r.covers === 'string' && /^RT-\d{3}$/.test(r.covers)) || r.probe === 'child-process');
    if (!ok) throw new CatalogError(`${id}: a runtime case needs runtime.covers (RT-nnn) or runtime.probe`);
  } else if (raw.runtime !== undefined) {
    throw new CatalogError(`${id}: runtime probe on a ${String(raw.vector)} case`);
  }
  if (raw.category === 'authz') {
    const a = raw.authz;
    if (raw.vector !== 'path' || !isObj(a) || typeof a.as !== 'string' || !/^[a-z0-9-]+$/.test(a.as)) {
      throw new CatalogError(`${id}: an authz case is a path case with authz.as (a scenario file stem)`);
    }
    const okHeaders =
      a.headers === undefined ||
      (Array.isArray(a.headers) &&
        a.headers.every(h => Array.isArray(h) && h.length === 2 && /^[A-Za-z0-9-]+$/.test(String(h[0])) && typeof h[1] === 'string'));
    if (!okHeaders) throw new CatalogError(`${id}: authz.headers must be [name, value] pairs`);
    if (a.body !== undefined && typeof a.body !== 'string') throw new CatalogError(`${id}: authz.body must be a string`);
  } else if (raw.authz !== undefined) {
    throw new CatalogError(`${id}: authz setup on a ${String(raw.category)} case`);
  }
  if (raw.vector === 'header' && !/^[A-Za-z0-9-]+: /.test(raw.payload as string)) throw new CatalogError(`${id}: a header payload is "Name: value"`);
  return raw as unknown as EscapeCase;
}

/** Validates a whole catalog document: every case, unique ids, unique refIds. */
export function validateCatalog(doc: unknown): EscapeCatalog {
  if (!isObj(doc) || !Array.isArray(doc.cases) || !isObj(doc.reference)) throw new CatalogError('catalog: {version, reference, cases} expected');
  const ids = new Set<string>();
  const refIds = new Set<string>();
  const cases = doc.cases.map(validateCase);
  for (const c of cases) {
    if (ids.has(c.id)) throw new CatalogError(`${c.id}: duplicate id`);
    ids.add(c.id);
    if (c.refId !== null) {
      if (refIds.has(c.refId)) throw new CatalogError(`${c.id}: reference id ${c.refId} mapped twice`);
      refIds.add(c.refId);
    }
  }
  return {version: Number(doc.version), reference: doc.reference as EscapeCatalog['reference'], cases};
}

let cached: EscapeCatalog | undefined;

/** The built-in catalog (validated once). */
export function loadCatalog(): EscapeCatalog {
  cached ??= validateCatalog(catalogData as unknown);
  return cached;
}

export interface CaseFilter {
  /** Categories to keep (empty/undefined = all). */
  categories?: readonly string[];
  /** Case ids to keep (empty/undefined = all). */
  ids?: readonly string[];
  vectors?: readonly string[];
}

export function selectCases(cases: readonly EscapeCase[], f: CaseFilter = {}): EscapeCase[] {
  const unknown = (f.categories ?? []).filter(c => !(CATEGORIES as readonly string[]).includes(c));
  if (unknown.length > 0) throw new CatalogError(`unknown category: ${unknown.join(', ')} (one of ${CATEGORIES.join(', ')})`);
  return cases.filter(
    c =>
      (!f.categories?.length || f.categories.includes(c.category)) &&
      (!f.ids?.length || f.ids.includes(c.id) || (c.refId !== null && f.ids.includes(c.refId))) &&
      (!f.vectors?.length || f.vectors.includes(c.vector)),
  );
}

/** Every stub DNS answer the catalog's cases name (for the harness's resolver). */
export function dnsTable(cases: readonly EscapeCase[]): DnsAnswers {
  const table: DnsAnswers = {};
  for (const c of cases) for (const [name, answer] of Object.entries(c.dns ?? {})) table[name.toLowerCase()] = answer;
  return table;
}
