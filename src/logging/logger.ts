/**
 * Structured logging (pino) with redaction; nothing in src/ writes to the console directly.
 * `audit()` writes the one-line decision records (event, decision, code, ...).
 */
import pino, {Logger, LoggerOptions} from 'pino';

export type {Logger} from 'pino';

/** Paths that must never reach a log sink. */
export const REDACT_PATHS: readonly string[] = [
  'key', 'cert', 'ca', 'pfx', 'passphrase', 'privateKey', 'secret', 'token', 'password',
  '*.key', '*.cert', '*.ca', '*.pfx', '*.passphrase', '*.privateKey', '*.secret', '*.token', '*.password',
  'headers.authorization', 'headers.cookie', 'headers["proxy-authorization"]',
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["proxy-authorization"]',
  '*.headers.authorization', '*.headers.cookie',
  'body', 'payload', '*.body', '*.payload',
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

/** One structured audit line. Deny lines are warn-level so they survive LOG_LEVEL=warn. */
export function audit(logger: Logger, record: AuditRecord): void {
  const line = {audit: true, ...record};
  if (record.decision === 'allow') logger.info(line, record.event);
  else logger.warn(line, record.event);
}
