/**
 * What a demo command did, and whether that is what the narration said.
 *
 * observeCurl()/observeSClient() turn the real output of the curl and openssl s_client binaries
 * into an Observed outcome; compareOutcome() checks it against the scenario's Expectation and
 * returns the differences (none = "behaved as narrated"). Pure functions over text.
 */
import type {CommandResult, LogLine} from './processes';

export type Observed =
  /** An HTTP response came back. */
  | {kind: 'http'; status: number; body: string; json?: unknown; code?: string}
  /** The server sent a TLS alert and no HTTP response came back. */
  | {kind: 'tls-alert'; alert: string; detail: string}
  /** The connection was closed (EOF/reset) without any HTTP response. */
  | {kind: 'closed'; detail: string}
  /** A command that is not an HTTP client: its exit status and output. */
  | {kind: 'exit'; exitCode: number | null; stdout: string; stderr: string}
  /** The command could not do its job at all (not started, could not connect, timed out, ...). */
  | {kind: 'failed'; detail: string};

export type Expectation =
  | {kind: 'http'; status: number; code?: string; check?: (json: unknown) => string | undefined}
  | {kind: 'tls-alert'; alert: string}
  /** Refused in or right after the TLS handshake: a TLS alert or a closed connection, no HTTP. */
  | {kind: 'refused-before-http'}
  | {kind: 'exit'; check: (r: {exitCode: number | null; stdout: string; stderr: string}) => string | undefined};

export interface LogExpectation {
  event: string;
  decision: 'allow' | 'deny' | 'warn';
  code?: string;
  /** Certificate serial (upper-case hex) the line must name. */
  serial?: string;
  /** Any other fields that must be equal. */
  fields?: Readonly<Record<string, string | boolean | number>>;
  /** String fields that must match. */
  matches?: Readonly<Record<string, RegExp>>;
}

/** Upper-case hex without leading zeros (Node's serialNumber and the manifest agree after this). */
export function normalizeSerialText(s: string): string {
  const t = s
    .replace(/[^0-9a-f]/gi, '')
    .toUpperCase()
    .replace(/^0+/, '');
  return t === '' ? '0' : t;
}

function firstLine(s: string): string {
  return (
    s
      .split('\n')
      .map(l => l.trim())
      .find(l => l !== '') ?? ''
  );
}

/** The alert name in an OpenSSL error string, e.g. "tlsv13 alert certificate required" -> "certificate required". */
export function alertName(text: string): string | undefined {
  const m = /\b(?:sslv3|tlsv1|tlsv13) alert ([a-z][a-z ]*[a-z])/i.exec(text);
  return m ? m[1].toLowerCase() : undefined;
}

/** Parse `HTTP/1.1 403 Forbidden\r\n...\r\n\r\nbody` (skipping 1xx interim responses). */
export function parseHttpResponse(text: string): {status: number; body: string} | undefined {
  let rest = text;
  for (;;) {
    const m = /^HTTP\/\d(?:\.\d)? (\d{3})[^\r\n]*\r?\n/.exec(rest);
    if (!m) return undefined;
    const end = rest.search(/\r?\n\r?\n/);
    const status = Number(m[1]);
    const body = end < 0 ? '' : rest.slice(end).replace(/^\r?\n\r?\n/, '');
    if (status >= 100 && status < 200 && /^HTTP\//.test(body)) {
      rest = body;
      continue;
    }
    return {status, body};
  }
}

function httpObserved(status: number, body: string): Observed {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const err = (json as {error?: {code?: unknown}} | undefined)?.error;
  const code = err && typeof err.code === 'string' ? err.code : undefined;
  return {kind: 'http', status, body, ...(json !== undefined ? {json} : {}), ...(code !== undefined ? {code} : {})};
}

/** `curl -sS -i ...` */
export function observeCurl(r: CommandResult): Observed {
  if (r.spawnError) return {kind: 'failed', detail: `curl could not be started: ${r.spawnError}`};
  if (r.timedOut) return {kind: 'failed', detail: 'curl did not finish within its time bound'};
  const http = parseHttpResponse(r.stdout);
  if (http) return httpObserved(http.status, http.body);
  const err = firstLine(r.stderr).replace(/^curl: \(\d+\) /, '');
  const alert = alertName(r.stderr);
  if (alert) return {kind: 'tls-alert', alert, detail: `curl exit ${r.exitCode}`};
  // 52 = empty reply, 56 = receive failure (reset / unexpected EOF) after the handshake.
  if (r.exitCode === 52 || (r.exitCode === 56 && /reset|eof|empty|closed/i.test(r.stderr))) {
    return {kind: 'closed', detail: `curl exit ${r.exitCode}: ${err}`};
  }
  return {kind: 'failed', detail: `curl exit ${r.exitCode}: ${err || '(no output)'}`};
}

/** `openssl s_client ... -brief </dev/null` (optionally with an HTTP request on stdin). */
export function observeSClient(r: CommandResult): Observed {
  if (r.spawnError) return {kind: 'failed', detail: `openssl could not be started: ${r.spawnError}`};
  if (r.timedOut) return {kind: 'failed', detail: 'openssl s_client did not finish within its time bound'};
  const all = `${r.stdout}\n${r.stderr}`;
  const idx = r.stdout.search(/^HTTP\/\d/m);
  if (idx >= 0) {
    const http = parseHttpResponse(r.stdout.slice(idx));
    if (http) return httpObserved(http.status, http.body);
  }
  const alert = alertName(all);
  if (alert) return {kind: 'tls-alert', alert, detail: `openssl s_client exit ${r.exitCode}`};
  if (/CONNECTION ESTABLISHED/.test(all) && /unexpected eof|connection reset|errno=104/i.test(all)) {
    return {kind: 'closed', detail: `openssl s_client exit ${r.exitCode}: the handshake completed, then the server closed the connection`};
  }
  if (/CONNECTION ESTABLISHED/.test(all)) {
    return {kind: 'exit', exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr};
  }
  return {kind: 'failed', detail: `openssl exit ${r.exitCode}: ${firstLine(r.stderr) || '(no output)'}`};
}

export function observeExit(r: CommandResult): Observed {
  if (r.spawnError) return {kind: 'failed', detail: `could not be started: ${r.spawnError}`};
  if (r.timedOut) return {kind: 'failed', detail: 'did not finish within its time bound'};
  return {kind: 'exit', exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr};
}

function clip(s: string, n = 160): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

/** One line saying what happened. */
export function describeObserved(o: Observed): string {
  switch (o.kind) {
    case 'http':
      return `HTTP ${o.status} ${clip(o.body)}`;
    case 'tls-alert':
      return `TLS alert "${o.alert}" from the server; no HTTP response (${clip(o.detail, 120)})`;
    case 'closed':
      return `the server closed the connection right after the handshake; no HTTP response (${clip(o.detail, 120)})`;
    case 'exit':
      return `exit status ${o.exitCode}`;
    case 'failed':
      return `the command failed: ${clip(o.detail)}`;
  }
}

/** One line saying what the narration expects. */
export function describeExpectation(e: Expectation): string {
  switch (e.kind) {
    case 'http':
      return `HTTP ${e.status}${e.code ? ` with code ${e.code}` : ''}`;
    case 'tls-alert':
      return `TLS alert "${e.alert}", no HTTP response`;
    case 'refused-before-http':
      return 'connection refused in the TLS layer, no HTTP response';
    case 'exit':
      return 'see the narration';
  }
}

/** Differences between the narration and what happened ([] = behaved as narrated). */
export function compareOutcome(expect: Expectation, o: Observed): string[] {
  const got = describeObserved(o);
  switch (expect.kind) {
    case 'http': {
      if (o.kind !== 'http') return [`expected ${describeExpectation(expect)}, got: ${got}`];
      const out: string[] = [];
      if (o.status !== expect.status) out.push(`expected HTTP ${expect.status}, got HTTP ${o.status}`);
      if (expect.code !== undefined && o.code !== expect.code) out.push(`expected error code ${expect.code}, got ${o.code ?? 'none'}`);
      if (expect.code === undefined && o.code !== undefined) out.push(`expected no error, got error code ${o.code}`);
      if (expect.check && out.length === 0) {
        const why = expect.check(o.json);
        if (why) out.push(why);
      }
      return out;
    }
    case 'tls-alert':
      if (o.kind !== 'tls-alert') return [`expected ${describeExpectation(expect)}, got: ${got}`];
      return o.alert === expect.alert ? [] : [`expected TLS alert "${expect.alert}", got "${o.alert}"`];
    case 'refused-before-http':
      return o.kind === 'tls-alert' || o.kind === 'closed' ? [] : [`expected ${describeExpectation(expect)}, got: ${got}`];
    case 'exit': {
      if (o.kind !== 'exit') return [`expected the command to run, got: ${got}`];
      const why = expect.check(o);
      return why ? [why] : [];
    }
  }
}

/** Does a service log line satisfy the expectation? */
export function logMatches(exp: LogExpectation, line: LogLine): boolean {
  if (line.event !== exp.event || line.decision !== exp.decision) return false;
  if (exp.code !== undefined && line.code !== exp.code) return false;
  if (exp.serial !== undefined) {
    if (typeof line.serial !== 'string' || normalizeSerialText(line.serial) !== normalizeSerialText(exp.serial)) return false;
  }
  for (const [k, v] of Object.entries(exp.fields ?? {})) if (line[k] !== v) return false;
  for (const [k, re] of Object.entries(exp.matches ?? {})) if (typeof line[k] !== 'string' || !re.test(line[k] as string)) return false;
  return true;
}

export function describeLogExpectation(exp: LogExpectation): string {
  const parts = [exp.event, exp.decision];
  if (exp.code) parts.push(exp.code);
  if (exp.serial) parts.push(`serial ${exp.serial}`);
  for (const [k, v] of Object.entries(exp.fields ?? {})) parts.push(`${k}=${String(v)}`);
  for (const [k, re] of Object.entries(exp.matches ?? {})) parts.push(`${k}~${String(re)}`);
  return parts.join(' ');
}

export function describeLogLine(line: LogLine): string {
  const parts = [String(line.event), String(line.decision)];
  if (line.code) parts.push(String(line.code));
  for (const k of ['serial', 'source', 'rule', 'check', 'ruleId', 'location', 'route', 'reason']) {
    if (line[k] !== undefined && line[k] !== null) parts.push(`${k}=${typeof line[k] === 'string' ? line[k] : JSON.stringify(line[k])}`);
  }
  return parts.join(' ');
}
