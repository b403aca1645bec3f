/**
 * The escape-suite runner (library API; cli.ts is the command line around it).
 *
 *   const result = await runEscapeSuite({});                       // local instance + harness
 *   const result = await runEscapeSuite({target: {url, ca, cert, key, scenarioCertsDir}});
 *
 * Every selected case is executed and judged (verdict.ts); the result lists one CaseResult per
 * case, totals per category and per spec operation. Wire cases run concurrently (each on its own
 * TLS connection); url-param cases run one at a time so that every canary connection is
 * attributed to the case that caused it.
 */
import fs from 'node:fs';
import net from 'node:net';
import {auditOpenApi} from '../audit/openapi-audit';
import {AUTHZ_REFUSAL, CATEGORIES, CaseFilter, dnsTable, EscapeCase, loadCatalog, selectCases} from './catalog';
import {ClientCredentials, Endpoint, sendOverTls, sendPlain, WireObservation} from './client';
import type {EscapeHarness} from './harness';
import {startLocalTarget, LocalTarget} from './local-target';
import {buildRequest, DEFAULT_ROUTES, RouteConfig, urlParamPayload} from './requests';
import {RuntimeOptions, runRuntimeCases} from './runtime';
import {loadScenarioCerts, ScenarioCredential} from './scenario-certs';
import {buildSpecCases, loadSpecDocument, SpecCase, SpecSource} from './spec-cases';
import {CaseStatus, describeObservation, HarnessEvidence, judge, Observation} from './verdict';

export interface RemoteTarget {
  /** https://HOST:PORT */
  url: string;
  /** CA bundle that verifies the target's server certificate. */
  ca?: Buffer;
  /** The client identity the target allows (the attacker is an authenticated caller). */
  cert?: Buffer;
  key?: Buffer;
  /** Directory of scenario certificates (<scenario>.crt/.key). */
  scenarioCertsDir?: string;
  /** TLS server name (default: the URL's host when it is a name). */
  servername?: string;
}

export interface ProgressEvent {
  kind: 'start' | 'case' | 'phase';
  index?: number;
  total?: number;
  result?: CaseResult;
  message?: string;
}

export interface RunOptions extends CaseFilter {
  /** Omitted: start the local instance with the harness. */
  target?: RemoteTarget;
  /** Require refusal codes with 4xx answers (default true). */
  strictCodes?: boolean;
  /** Spec-driven cases: a file, or the target's own /openapi.json. */
  spec?: SpecSource;
  runtime?: RuntimeOptions;
  routes?: Partial<RouteConfig>;
  /** Parallel TLS connections for wire cases (default 8). */
  concurrency?: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Cases to run instead of the built-in catalog (tests). */
  cases?: readonly EscapeCase[];
  /** Keep the local instance's service log here. */
  serviceLogFile?: string;
  onProgress?: (e: ProgressEvent) => void;
}

export interface CaseResult {
  id: string;
  refId: string | null;
  source: string;
  category: string;
  vector: string;
  method?: string;
  payload: string;
  expected: string;
  expect_detail: string;
  reference: string;
  status: CaseStatus;
  /** Why (one line). */
  reason: string;
  /** What came back (one line). */
  observed: string;
  /** The spec operation (spec-driven cases only), e.g. "POST /echo". */
  operation?: string;
  /** Where the payload was injected (spec-driven cases only), e.g. "query:q". */
  location?: string;
  durationMs: number;
}

export interface Totals {
  total: number;
  passed: number;
  failed: number;
  notApplicable: number;
}

export interface SuiteResult {
  tool: 'hardened-mtls escape suite';
  startedAt: string;
  finishedAt: string;
  target: {kind: 'local' | 'remote'; url: string};
  strictCodes: boolean;
  totals: Totals;
  byCategory: Record<string, Totals>;
  byOperation: Record<string, Totals>;
  results: CaseResult[];
  /** Harness facts for the report (canaries and where they listen). */
  harness?: {canaries: Array<{key: string; bound: string; fallbackReason?: string}>};
  /** Spec-driven generation: the source and what it produced. */
  spec?: {
    source: string;
    operations: number;
    cases: number;
    error?: string;
    /** The OpenAPI audit of the same document (static findings next to the runtime results). */
    audit?: {counts: Record<string, number>; findings: Array<{ruleId: string; severity: string; operation: string; location: string}>};
  };
  notes: string[];
}

function emptyTotals(): Totals {
  return {total: 0, passed: 0, failed: 0, notApplicable: 0};
}

function add(t: Totals, s: CaseStatus): void {
  t.total++;
  if (s === 'passed') t.passed++;
  else if (s === 'failed') t.failed++;
  else t.notApplicable++;
}

export function summarize(results: readonly CaseResult[]): {totals: Totals; byCategory: Record<string, Totals>; byOperation: Record<string, Totals>} {
  const totals = emptyTotals();
  const byCategory: Record<string, Totals> = {};
  const byOperation: Record<string, Totals> = {};
  for (const r of results) {
    add(totals, r.status);
    add((byCategory[r.category] ??= emptyTotals()), r.status);
    if (r.operation) add((byOperation[r.operation] ??= emptyTotals()), r.status);
  }
  return {totals, byCategory, byOperation};
}

/** Runs async jobs with bounded parallelism, preserving order of results. */
async function pool<T, R>(items: readonly T[], n: number, job: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await job(items[i]);
    }
  };
  await Promise.all(Array.from({length: Math.max(1, Math.min(n, items.length))}, worker));
  return out;
}

interface Ctx {
  endpoint: Endpoint;
  credentials: ClientCredentials;
  scenarios: Map<string, ScenarioCredential>;
  scenarioSource: string;
  harness?: EscapeHarness;
  routes: RouteConfig;
  timeoutMs: number;
  strictCodes: boolean;
}

function parseTargetUrl(u: string): {host: string; port: number} {
  const m = /^https:\/\/(\[[0-9a-fA-F:.]+\]|[^/:?#\s]+)(?::(\d{1,5}))?\/?$/.exec(u);
  if (!m) throw new Error(`--target must look like https://HOST:PORT (got ${u})`);
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  return {host, port: m[2] ? Number(m[2]) : 443};
}

async function runTlsCase(c: EscapeCase, ctx: Ctx): Promise<Observation> {
  const t = c.tls!;
  const request = {method: 'GET', target: ctx.routes.tlsProbe};
  if (t.transport === 'plain') return sendPlain(ctx.endpoint, request, ctx.timeoutMs);
  let credentials: ClientCredentials | undefined;
  if (t.scenario !== null) {
    const s = ctx.scenarios.get(t.scenario);
    if (!s) return {kind: 'not-run', reason: `scenario certificate "${t.scenario}" not supplied (${ctx.scenarioSource})`};
    credentials = {cert: t.sendChain && s.chain ? s.chain : s.cert, key: s.key};
  }
  return sendOverTls({endpoint: ctx.endpoint, credentials, tlsOptions: t.client, request, timeoutMs: ctx.timeoutMs});
}

async function runWireCase(c: EscapeCase, ctx: Ctx): Promise<Observation> {
  if (c.vector === 'tls') return runTlsCase(c, ctx);
  if (c.authz) {
    // Sent as another identity (authz category): the scenario's certificate, with its chain when known.
    const s = ctx.scenarios.get(c.authz.as);
    if (!s) return {kind: 'not-run', reason: `scenario certificate "${c.authz.as}" not supplied (${ctx.scenarioSource})`};
    return sendOverTls({
      endpoint: ctx.endpoint,
      credentials: {cert: s.chain ?? s.cert, key: s.key},
      request: buildRequest(c, ctx.routes),
      timeoutMs: ctx.timeoutMs,
    });
  }
  return sendOverTls({endpoint: ctx.endpoint, credentials: ctx.credentials, request: buildRequest(c, ctx.routes), timeoutMs: ctx.timeoutMs});
}

async function runUrlParamCase(c: EscapeCase, ctx: Ctx): Promise<{obs: Observation; evidence?: HarnessEvidence}> {
  const h = ctx.harness;
  const needsHarness = c.dns !== undefined || c.upstream !== undefined || c.expected === 'allow' || c.expect_detail === 'no-internal-connection';
  const payload = urlParamPayload(c, h?.unixSocketPath);
  if (!h && (needsHarness || payload === undefined)) {
    return {obs: {kind: 'not-run', reason: 'needs the local harness (stub DNS, canaries, fake public upstream): run without --target'}};
  }
  h?.reset();
  h?.prepare(c);
  const obs: WireObservation = await sendOverTls({
    endpoint: ctx.endpoint,
    credentials: ctx.credentials,
    request: buildRequest(c, ctx.routes, payload),
    timeoutMs: ctx.timeoutMs,
  });
  if (!h) return {obs};
  const internalConnections: Record<string, number> = {};
  for (const [k, n] of Object.entries(h.canaryCounts())) if (n > 0) internalConnections[k] = n;
  for (const b of h.blockedConnects) internalConnections[`refused ${b}`] = (internalConnections[`refused ${b}`] ?? 0) + 1;
  return {obs, evidence: {internalConnections, internalTotal: h.internalConnectionAttempts(), upstreamRequests: h.upstream.requests.length}};
}

function toResult(c: EscapeCase | SpecCase, obs: Observation, ctx: Ctx, evidence: HarnessEvidence | undefined, started: number): CaseResult {
  const v = judge(c.category === 'authz' ? {...c, refusal: AUTHZ_REFUSAL} : c, obs, {strictCodes: ctx.strictCodes, harness: evidence});
  const spec = c as Partial<SpecCase>;
  return {
    id: c.id,
    refId: c.refId,
    source: c.source,
    category: c.category,
    vector: c.vector,
    method: c.method,
    payload: c.payload,
    expected: c.expected,
    expect_detail: c.expect_detail,
    reference: c.reference,
    status: v.status,
    reason: v.reason,
    observed:
      describeObservation(obs) +
      (evidence
        ? `; fake upstream saw ${evidence.upstreamRequests} request(s); internal connections: ${
            Object.entries(evidence.internalConnections)
              .map(([k, n]) => `${k}=${n}`)
              .join(', ') || 'none'
          }`
        : ''),
    ...(spec.operation ? {operation: spec.operation, location: spec.location} : {}),
    durationMs: Date.now() - started,
  };
}

/** Runs the suite. Never throws for a failing case; throws only when the run cannot start. */
export async function runEscapeSuite(opts: RunOptions = {}): Promise<SuiteResult> {
  const startedAt = new Date();
  const all = opts.cases ?? loadCatalog().cases;
  const selected = selectCases(all, opts);
  const progress = opts.onProgress ?? (() => undefined);
  const notes: string[] = [];
  let local: LocalTarget | undefined;
  let ctx: Ctx;
  const routes = {...DEFAULT_ROUTES, ...opts.routes};
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const strictCodes = opts.strictCodes ?? true;

  if (opts.target) {
    const {host, port} = parseTargetUrl(opts.target.url);
    const scenarios = opts.target.scenarioCertsDir ? loadScenarioCerts(opts.target.scenarioCertsDir) : new Map<string, ScenarioCredential>();
    if (opts.target.cert && opts.target.key && !scenarios.has('valid')) scenarios.set('valid', {cert: opts.target.cert, key: opts.target.key});
    ctx = {
      endpoint: {host, port, ca: opts.target.ca, servername: opts.target.servername ?? (net.isIP(host) ? undefined : host)},
      credentials: {cert: opts.target.cert, key: opts.target.key},
      scenarios,
      scenarioSource: opts.target.scenarioCertsDir ? `not in ${opts.target.scenarioCertsDir}` : 'no --scenario-certs given',
      routes,
      timeoutMs,
      strictCodes,
    };
    notes.push(
      'Remote target: cases that need the harness (canaries, stub DNS, fake upstream) are reported "not applicable" unless the observation already contradicts the expectation.',
    );
  } else {
    progress({kind: 'phase', message: 'starting the local instance (throw-away PKI, harness, service)'});
    local = await startLocalTarget({dns: dnsTable(all), logFile: opts.serviceLogFile});
    const scenarios = loadScenarioCerts(local.scenarioDir);
    const valid = scenarios.get('valid')!;
    ctx = {
      endpoint: local.endpoint,
      credentials: {cert: valid.cert, key: valid.key},
      scenarios,
      scenarioSource: 'local scenario set',
      harness: local.harness,
      routes,
      timeoutMs,
      strictCodes,
    };
    const moved = local.harness.canaries.filter(c => c.bound === 'ephemeral' && c.fallbackReason);
    if (moved.length > 0) {
      notes.push(
        `Canaries not on their real address (reached through the connect shim only): ${moved.map(c => `${c.key} (${c.fallbackReason})`).join('; ')}.`,
      );
    }
  }

  try {
    // Spec-driven cases are generated before the run so that the total is known up front.
    let specCases: SpecCase[] = [];
    let specInfo: SuiteResult['spec'];
    if (opts.spec) {
      progress({kind: 'phase', message: `reading the OpenAPI spec (${opts.spec.kind === 'file' ? opts.spec.file : 'target /openapi.json'})`});
      try {
        const doc = await loadSpecDocument(opts.spec, {endpoint: ctx.endpoint, credentials: ctx.credentials, timeoutMs});
        const built = buildSpecCases(doc.document, all);
        specCases = built.cases;
        const audit = auditOpenApi(doc.document);
        specInfo = {
          source: doc.source,
          operations: built.operations,
          cases: specCases.length,
          audit: {
            counts: {...audit.counts},
            findings: audit.findings.map(f => ({
              ruleId: f.ruleId,
              severity: f.severity,
              operation: f.method ? `${f.method.toUpperCase()} ${f.path ?? ''}` : '',
              location: f.location,
            })),
          },
        };
      } catch (e) {
        specInfo = {
          source: opts.spec.kind === 'file' ? opts.spec.file : 'target /openapi.json',
          operations: 0,
          cases: 0,
          error: (e as Error).message,
        };
      }
    }

    const wire = selected.filter(c => c.vector !== 'url-param' && c.vector !== 'runtime');
    const urlParam = selected.filter(c => c.vector === 'url-param');
    const runtime = selected.filter(c => c.vector === 'runtime');
    const total = wire.length + urlParam.length + runtime.length + specCases.length + (specInfo?.error ? 1 : 0);
    progress({kind: 'start', total});
    let index = 0;
    const results: CaseResult[] = [];
    const emit = (r: CaseResult) => {
      results.push(r);
      progress({kind: 'case', index: ++index, total, result: r});
    };

    await pool(wire, opts.concurrency ?? 8, async c => {
      const t0 = Date.now();
      emit(toResult(c, await runWireCase(c, ctx), ctx, undefined, t0));
    });
    for (const c of urlParam) {
      const t0 = Date.now();
      const {obs, evidence} = await runUrlParamCase(c, ctx);
      emit(toResult(c, obs, ctx, evidence, t0));
    }
    if (runtime.length > 0) {
      const t0 = Date.now();
      const mode: RuntimeOptions = opts.runtime ?? (local ? {mode: 'sandbox'} : {mode: 'none'});
      const observations = await runRuntimeCases(runtime, mode);
      const before = results.length;
      for (const c of runtime) emit(toResult(c, observations.get(c.id)!, ctx, undefined, t0));
      const failed = results.slice(before).some(r => r.status === 'failed');
      if (mode.mode === 'in-process' && failed) {
        notes.push(
          'Runtime cases were judged in the runner\'s own process (--runtime local). Unless the runner itself runs inside a hardened container they fail by design: use --runtime sandbox (the default for the local instance; needs root and bubblewrap) or run them inside the image with --runtime exec:"podman exec CONTAINER node /app/dist/src/escape/runtime-probe.js".',
        );
      }
      if (mode.mode === 'sandbox' && failed) {
        notes.push(
          'Runtime cases run inside the hardened bubblewrap sandbox (--runtime sandbox, the default for the local instance). It needs root and bubblewrap: bash .ci/install-system-deps.sh installs them. Against a deployment, use --runtime exec:"COMMAND".',
        );
      }
    }
    if (specInfo?.error) {
      emit({
        id: 'SPEC-LOAD',
        refId: null,
        source: 'this project',
        category: 'spec',
        vector: 'spec',
        payload: specInfo.source,
        expected: 'reject',
        expect_detail: '4xx',
        reference: 'spec-driven cases',
        status: 'failed',
        reason: `the OpenAPI document could not be read: ${specInfo.error}`,
        observed: specInfo.error,
        durationMs: 0,
      });
    }
    await pool(specCases, opts.concurrency ?? 8, async c => {
      const t0 = Date.now();
      const obs = await sendOverTls({endpoint: ctx.endpoint, credentials: ctx.credentials, request: c.request, timeoutMs: ctx.timeoutMs});
      emit(toResult(c, obs, ctx, undefined, t0));
    });

    const order = new Map([...selected, ...specCases].map((c, i) => [c.id, i]));
    results.sort((a, b) => (order.get(a.id) ?? 1e9) - (order.get(b.id) ?? 1e9));
    const {totals, byCategory, byOperation} = summarize(results);
    const categoryOrder = [...CATEGORIES, 'spec'];
    const sortedCategories: Record<string, Totals> = {};
    for (const k of Object.keys(byCategory).sort((a, b) => categoryOrder.indexOf(a) - categoryOrder.indexOf(b))) sortedCategories[k] = byCategory[k];
    return {
      tool: 'hardened-mtls escape suite',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      target: {kind: local ? 'local' : 'remote', url: local ? local.url : opts.target!.url},
      strictCodes,
      totals,
      byCategory: sortedCategories,
      byOperation,
      results,
      harness: local ? {canaries: local.harness.canaries.map(c => ({key: c.key, bound: c.bound, fallbackReason: c.fallbackReason}))} : undefined,
      spec: specInfo,
      notes,
    };
  } finally {
    await local?.close();
  }
}

/** Reads a PEM/DER file for the CLI (a clear error instead of ENOENT stack traces). */
export function readFileArg(name: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${name}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {cause: e});
  }
}
