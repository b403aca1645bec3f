/**
 * Verdicts: what an observation means for a case's expectation (catalog.README "expect_detail").
 * Pure module: no I/O. The runner gathers observations; this decides passed / failed /
 * not-applicable and says why in one line.
 *
 * Fail closed: an observation the runner could not make (client error, unreachable target, an
 * attempt that reached the internal network) is a failure, never a pass. A remote target without
 * the harness makes harness-dependent cases `not-applicable`, never `passed`.
 */
import type {EscapeCase, Vector} from './catalog';
import type {WireObservation} from './client';

export type CaseStatus = 'passed' | 'failed' | 'not-applicable';

/** What the harness saw during one url-param case (local target only). */
export interface HarnessEvidence {
  /** Connections per canary that are non-zero, plus refused non-public destinations. */
  internalConnections: Record<string, number>;
  internalTotal: number;
  /** Requests the fake public upstream received. */
  upstreamRequests: number;
}

export interface RuntimeFindingView {
  id: string;
  ok: boolean;
  severity?: string;
  detail: string;
}

export interface RuntimeObservation {
  kind: 'runtime';
  /** Findings that answer this case (posture `covers`, or the child-process probe's checks). */
  findings: RuntimeFindingView[];
  /** Where the probe ran, e.g. 'in-process', 'exec: podman exec ...'. */
  where: string;
  /** Set when the probe could not run (fail closed). */
  error?: string;
}

export interface NotRunObservation {
  kind: 'not-run';
  reason: string;
}

export type Observation = WireObservation | RuntimeObservation | NotRunObservation;

export interface VerdictContext {
  /** Require a refusal code (GUARD_*, SSRF_*, AUTH_*) with a 4xx, not just any 4xx. */
  strictCodes: boolean;
  /** Harness evidence for url-param cases; undefined against a remote target. */
  harness?: HarnessEvidence;
}

export interface Verdict {
  status: CaseStatus;
  reason: string;
}

/** Refusal codes a strict run accepts with a 4xx, per vector. */
export const REFUSAL_CODE: Readonly<Record<Vector, RegExp>> = {
  path: /^GUARD_/,
  query: /^GUARD_/,
  header: /^GUARD_/,
  body: /^GUARD_/,
  'url-param': /^(SSRF_|GUARD_)/,
  tls: /^AUTH_/,
  runtime: /^$/,
};

export function describeObservation(o: Observation): string {
  switch (o.kind) {
    case 'http':
      return `HTTP ${o.status}${o.code ? ` ${o.code}` : o.httpParser ? ' (HTTP parser)' : ''}`;
    case 'no-response':
      return `no HTTP response (${o.secureConnected ? 'after the handshake' : 'during the handshake'}: ${o.error})`;
    case 'client-error':
      return `runner could not make the attempt: ${o.error}`;
    case 'unreachable':
      return `target unreachable: ${o.error}`;
    case 'runtime': {
      if (o.error) return `runtime probe failed (${o.where}): ${o.error}`;
      const bad = o.findings.filter(f => !f.ok && f.severity !== 'low');
      // the syscall probe's real answers (RT-013/RT-014) are always recorded, blocked or not
      const attempts = o.findings.filter(f => f.id.startsWith('syscall ')).map(f => f.detail);
      return (
        `${o.where}: ${o.findings.length} finding(s), ${bad.length} not ok${bad.length ? `: ${bad.map(f => `${f.id} (${f.detail})`).join('; ')}` : ''}` +
        (attempts.length ? `; attempts: ${attempts.join(', ')}` : '')
      );
    }
    case 'not-run':
      return o.reason;
  }
}

function is4xx(o: Observation): o is WireObservation & {kind: 'http'} {
  return o.kind === 'http' && o.status >= 400 && o.status <= 499;
}

function is2xx(o: Observation): boolean {
  return o.kind === 'http' && o.status >= 200 && o.status <= 299;
}

/** What judge() needs of a case (catalog cases and spec-driven cases). */
export type JudgedCase = Pick<EscapeCase, 'vector' | 'expected' | 'expect_detail'> & {method?: string; refusal?: RegExp};

function refusalOk(c: JudgedCase, o: WireObservation & {kind: 'http'}, ctx: VerdictContext): string | undefined {
  if (!ctx.strictCodes) return undefined;
  if (o.code && (c.refusal ?? REFUSAL_CODE[c.vector]).test(o.code)) return undefined;
  if (o.httpParser && c.vector !== 'url-param' && c.vector !== 'tls') return undefined;
  // A HEAD answer has no body, so no code: the guard's statuses (400, 403) with a JSON error type count.
  if (c.method === 'HEAD' && !o.code && (o.status === 400 || o.status === 403) && /json/.test(o.headers['content-type'] ?? '')) return undefined;
  return `a 4xx without a refusal code (${o.code ?? 'none'}): not a deliberate refusal (strict mode)`;
}

function internalSummary(h: HarnessEvidence): string {
  return Object.entries(h.internalConnections)
    .map(([k, n]) => `${k}=${n}`)
    .join(', ');
}

/**
 * The upstream's redirect passed back unchanged: the demo fetch route answers 2xx with the
 * upstream's status in its JSON body, or relays a 3xx.
 */
export function isPassedBackRedirect(o: Observation): boolean {
  if (o.kind !== 'http') return false;
  if (o.status >= 300 && o.status <= 399) return true;
  if (!is2xx(o)) return false;
  try {
    const j = JSON.parse(o.body) as {status?: unknown};
    return typeof j.status === 'number' && j.status >= 300 && j.status <= 399;
  } catch {
    return false;
  }
}

/** The coded answer of a connection gate: 401/403, an AUTH_ code, `Connection: close`. */
export function isConnectionLevelRefusal(o: Observation): boolean {
  return o.kind === 'http' && (o.status === 401 || o.status === 403) && /^AUTH_/.test(o.code ?? '') && /^close$/i.test(o.headers.connection ?? '');
}

export function judge(c: JudgedCase, o: Observation, ctx: VerdictContext): Verdict {
  const seen = describeObservation(o);
  if (o.kind === 'not-run') return {status: 'not-applicable', reason: o.reason};
  if (o.kind === 'client-error' || o.kind === 'unreachable') return {status: 'failed', reason: seen};
  const fail = (why: string): Verdict => ({status: 'failed', reason: `${why}; observed ${seen}`});
  const pass = (why: string): Verdict => ({status: 'passed', reason: `${why}; observed ${seen}`});

  // Harness evidence first: any internal connection fails a reject case, whatever the status.
  const h = ctx.harness;
  if (c.vector === 'url-param' && h && c.expected === 'reject' && h.internalTotal > 0) {
    return fail(`reached the internal network (${internalSummary(h)})`);
  }

  switch (c.expect_detail) {
    case '4xx': {
      if (!is4xx(o)) return fail('expected a 4xx refusal');
      const bad = refusalOk(c, o, ctx);
      if (bad) return fail(bad);
      if (c.vector === 'url-param' && !h) {
        return {
          status: 'not-applicable',
          reason: `refused, but the zero-connection proof needs the local harness (canaries, stub DNS); observed ${seen}`,
        };
      }
      return pass('refused');
    }
    case 'handshake':
      if (o.kind === 'no-response') return pass('no HTTP response');
      // A connection gate that tells the refused client why (docs/architecture.md, "Refused
      // clients learn why") answers before any HTTP routing: a 401/403 with an AUTH_ code and
      // `Connection: close`, the connection then closed. That is a refusal at connection time too.
      if (c.vector === 'tls' && isConnectionLevelRefusal(o)) return pass('refused at connection time with a coded answer');
      return fail('expected no HTTP response at all');
    case 'handshake|4xx': {
      if (o.kind === 'no-response') return pass('no HTTP response');
      if (is4xx(o)) {
        const bad = refusalOk(c, o, ctx);
        return bad ? fail(bad) : pass('refused by the application-layer check');
      }
      return fail('expected no HTTP response or a 4xx');
    }
    case '4xx|no-follow': {
      if (!h) return {status: 'not-applicable', reason: `needs the local harness (fake upstream, canaries); observed ${seen}`};
      if (h.upstreamRequests > 1) return fail(`the redirect was followed (the upstream saw ${h.upstreamRequests} requests)`);
      if (is4xx(o)) {
        const bad = refusalOk(c, o, ctx);
        return bad ? fail(bad) : pass('refused, no internal connection');
      }
      if (isPassedBackRedirect(o)) return pass('the upstream 3xx was passed back, not followed; no internal connection');
      return fail('expected a 4xx or the upstream 3xx passed back');
    }
    case 'no-internal-connection':
      if (!h) return {status: 'not-applicable', reason: `needs the local harness (stub DNS, canaries); observed ${seen}`};
      if (o.kind === 'http' && o.status >= 500) return fail('a 5xx (fail closed means a 4xx refusal)');
      return pass('no internal connection');
    case '2xx':
      return is2xx(o) ? pass('allowed') : fail('a benign request was not allowed');
    case 'guard-pass': {
      if (!h) return {status: 'not-applicable', reason: `needs the local harness (fake public upstream); observed ${seen}`};
      if (!is2xx(o)) return fail('the guard refused a benign URL');
      if (h.internalTotal > 0) return fail(`reached the internal network (${internalSummary(h)})`);
      if (h.upstreamRequests !== 1) return fail(`the fake public upstream saw ${h.upstreamRequests} requests (expected exactly 1)`);
      return pass('fetched once from the public upstream');
    }
    case 'denied': {
      if (o.kind !== 'runtime') return fail('expected a runtime observation');
      if (o.error) return fail(`the runtime probe could not run: ${o.error}`);
      // Low-severity findings are advisory (as in the posture check's own compliance rule).
      const blocking = o.findings.filter(f => f.severity !== 'low');
      if (blocking.length === 0) return fail('no blocking posture finding answers this case');
      const bad = blocking.filter(f => !f.ok);
      return bad.length === 0 ? pass('denied') : fail('the escape primitive is available');
    }
  }
}
