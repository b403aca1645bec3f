/**
 * Structured logging (pino) with redaction; nothing in src/ writes to the console directly.
 * `audit()` writes the one-line decision records (event, decision, code, ...).
 */
import pino, {Logger, LoggerOptions} from 'pino';

export type {Logger} from 'pino';

/** Paths that must never reach a log sink. */
export const REDACT_PATHS: readonly string[] = [
  'key',
  'cert',
  'ca',
  'pfx',
  'passphrase',
  'privateKey',
  'secret',
  'token',
  'password',
  '*.key',
  '*.cert',
  '*.ca',
  '*.pfx',
  '*.passphrase',
  '*.privateKey',
  '*.secret',
  '*.token',
  '*.password',
  'headers.authorization',
  'headers.cookie',
  'headers["proxy-authorization"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  '*.headers.authorization',
  '*.headers.cookie',
  'body',
  'payload',
  '*.body',
  '*.payload',
];

export interface LoggerSetup {
  level?: string;
  /** Destination stream (tests pass a capturing stream). Defaults to stdout, written synchronously. */
  destination?: pino.DestinationStream;
  name?: string;
}

/**
 * Loggers made by createLogger(): pino's own pieces of a line (level prefix, time, the child's
 * bindings, message key, line end) are used to write a prepared record directly to the logger's
 * stream, the line pino would have written for the same object and message. Children inherit the
 * mark (pino's child loggers are prototype-linked to their parent).
 */
const OURS = Symbol('hardened-mtls.logger');

interface PinoInternals {
  [OURS]?: true;
  [k: symbol]: unknown;
}

/**
 * pino.stdTimeFunctions.isoTime's output (`,"time":"2026-12-06T12:00:00.123Z"`) without a Date
 * formatted per line: the text up to the second is formatted once per second (the same text for the same `ms`).
 */
export function isoTimeAt(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = `,"time":"${new Date(second * 1000).toISOString().slice(0, 20)}`;
  }
  const frac = ms - second * 1000;
  return `${secondPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z"`;
}
let lastSecond = Number.NaN;
let secondPrefix = '';

const isoTime = (): string => isoTimeAt(Date.now());

export function createLogger(setup: LoggerSetup = {}): Logger {
  const options: LoggerOptions = {
    name: setup.name ?? 'hardened-mtls',
    level: setup.level ?? 'info',
    redact: {paths: [...REDACT_PATHS], censor: '[REDACTED]'},
    base: {pid: process.pid},
    timestamp: isoTime,
    formatters: {level: label => ({level: label})},
    serializers: {err: pino.stdSerializers.err},
  };
  // stdout through a SYNCHRONOUS destination: a line is in the kernel (pipe, file, terminal)
  // before the code that logged it goes on, so a response never leaves ahead of its decision
  // line and a crash or SIGKILL loses none (pino's default destination is asynchronous: lines it
  // still held in memory were lost on SIGKILL; test/acceptance/reliability/audit-sigkill).
  const logger = pino(options, setup.destination ?? pino.destination({dest: 1, sync: true}));
  (logger as unknown as PinoInternals)[OURS] = true;
  return logger;
}

export type AuditDecision = 'allow' | 'deny' | 'warn';

export interface AuditRecord {
  /** e.g. 'auth.decision', 'guard.decision', 'outbound.decision', 'tls.connection' */
  event: string;
  decision: AuditDecision;
  code?: string;
  [field: string]: unknown;
}

/**
 * Field names never written to an audit line, at any depth (compared in lower case): their value
 * becomes "[REDACTED]". The plain names of REDACT_PATHS, plus the header names that carry credentials.
 */
export const AUDIT_SENSITIVE_FIELDS: ReadonlySet<string> = new Set([
  ...REDACT_PATHS.filter(p => /^[A-Za-z]+$/.test(p)).map(p => p.toLowerCase()),
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
]);

const CENSOR = '[REDACTED]';
/** Nesting below this depth is not written (audit records are flat by design). */
const AUDIT_MAX_DEPTH = 4;
/** Longer arrays are cut; the line says how many items were left out. */
const AUDIT_MAX_ITEMS = 64;

function auditValue(v: unknown, depth: number): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return undefined;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  // Raw bytes (DER, key material, bodies) are never written, whatever the field is called.
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return CENSOR;
  if (depth >= AUDIT_MAX_DEPTH) return '[TRUNCATED]';
  if (Array.isArray(v)) {
    const out = v.slice(0, AUDIT_MAX_ITEMS).map(x => auditValue(x, depth + 1));
    if (v.length > AUDIT_MAX_ITEMS) out.push(`[${v.length - AUDIT_MAX_ITEMS} more]`);
    return out;
  }
  if (v instanceof Error) return {name: v.name, ...('code' in v && typeof v.code === 'string' ? {code: v.code} : {})};
  return auditFields(v as Record<string, unknown>, depth + 1);
}

function auditFields(o: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    if (AUDIT_SENSITIVE_FIELDS.has(k.toLowerCase())) {
      out[k] = CENSOR;
      continue;
    }
    const v = auditValue(o[k], depth);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * The object an audit line is written from: `audit: true` plus the record, with every field named
 * in AUDIT_SENSITIVE_FIELDS (at any depth) and every byte buffer censored, undefined fields dropped,
 * nesting and array length bounded. Pure; the audit logger relies on it instead of pino's wildcard
 * redaction paths, which cost about 12 µs per line (measured, docs/benchmarks-fixes.md).
 */
export function auditLine(record: AuditRecord): Record<string, unknown> {
  return {audit: true, ...auditFields(record, 0)};
}

/**
 * An audit record censored and serialized once (auditLine, then JSON), so that a record that
 * repeats (the same connection's verdict, the same identity's decision on the same operation)
 * is not rebuilt for every request. Only the time changes from one line to the next.
 */
export interface PreparedAudit {
  readonly event: string;
  readonly decision: AuditDecision;
  /** The line's members, `"audit":true,"event":...` (JSON, without the braces). */
  readonly members: string;
  /** JSON of the message (the event name). */
  readonly msgJson: string;
}

export function prepareAudit(record: AuditRecord): PreparedAudit {
  const json = JSON.stringify(auditLine(record));
  return Object.freeze({event: record.event, decision: record.decision, members: json.slice(1, -1), msgJson: JSON.stringify(record.event)});
}

const S = pino.symbols;

/** The logger's stream when a prepared line can be written as pino would (no mixin, log formatter, nested key or write hook). */
function directStream(logger: Logger): {write(s: string): unknown} | undefined {
  const l = logger as unknown as PinoInternals;
  if (l[OURS] !== true || l[S.mixinSym] || l[S.nestedKeySym]) return undefined;
  if ((l[S.formattersSym] as {log?: unknown} | undefined)?.log) return undefined;
  if ((l[S.hooksSym] as {streamWrite?: unknown} | undefined)?.streamWrite) return undefined;
  const stream = l[S.streamSym] as ({write(s: string): unknown} & {[k: symbol]: unknown}) | undefined;
  if (!stream || stream[S.needsMetadataGsym] === true) return undefined;
  return stream;
}

/**
 * Per logger, the child that writes audit lines through pino when the direct write does not
 * apply: the same sink, level and bindings, without pino's redaction paths (auditLine has already
 * censored every sensitive field).
 */
const auditLoggers = new WeakMap<Logger, Logger>();

function auditLoggerOf(logger: Logger): Logger {
  let child = auditLoggers.get(logger);
  if (!child || child.level !== logger.level) {
    child = logger.child({}, {redact: {paths: [], censor: CENSOR}});
    auditLoggers.set(logger, child);
  }
  return child;
}

/** One structured audit line from a prepared record. Deny lines are warn-level so they survive LOG_LEVEL=warn. */
export function auditPrepared(logger: Logger, p: PreparedAudit): void {
  const label = p.decision === 'allow' ? 'info' : 'warn';
  if (!logger.isLevelEnabled(label)) return;
  const stream = directStream(logger);
  if (stream) {
    const l = logger as unknown as PinoInternals;
    const num = logger.levels.values[label];
    const prefix = (l[S.lsCacheSym] as Record<number, string>)[num];
    const time = (l[S.timeSym] as () => string)();
    stream.write(
      `${prefix}${time}${l[S.chindingsSym] as string},${p.members},"${l[S.messageKeySym] as string}":${p.msgJson}${l[S.endSym] as string}`,
    );
    return;
  }
  const sink = auditLoggerOf(logger);
  sink[label](JSON.parse(`{${p.members}}`) as Record<string, unknown>, p.event);
}

/** One structured audit line. Deny lines are warn-level so they survive LOG_LEVEL=warn. */
export function audit(logger: Logger, record: AuditRecord): void {
  if (!logger.isLevelEnabled(record.decision === 'allow' ? 'info' : 'warn')) return;
  auditPrepared(logger, prepareAudit(record));
}
