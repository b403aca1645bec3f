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
  /** Destination stream (tests pass a capturing stream). Defaults to stdout. */
  destination?: pino.DestinationStream;
  name?: string;
}

export function createLogger(setup: LoggerSetup = {}): Logger {
  const options: LoggerOptions = {
    name: setup.name ?? 'hardened-mtls',
    level: setup.level ?? 'info',
    redact: {paths: [...REDACT_PATHS], censor: '[REDACTED]'},
    base: {pid: process.pid},
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {level: label => ({level: label})},
    serializers: {err: pino.stdSerializers.err},
  };
  return setup.destination ? pino(options, setup.destination) : pino(options);
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
 * Per logger, the child that writes audit lines: the same sink, level and bindings, without
 * pino's redaction paths (auditLine has already censored every sensitive field).
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

/** One structured audit line. Deny lines are warn-level so they survive LOG_LEVEL=warn. */
export function audit(logger: Logger, record: AuditRecord): void {
  const allow = record.decision === 'allow';
  if (!logger.isLevelEnabled(allow ? 'info' : 'warn')) return;
  const line = auditLine(record);
  const sink = auditLoggerOf(logger);
  if (allow) sink.info(line, record.event);
  else sink.warn(line, record.event);
}
