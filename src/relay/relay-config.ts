/**
 * Configuration of the L4 relay (src/relay/tcp-relay.ts): parsed from the environment, validated
 * and frozen before anything listens; a bad value is a CONFIG_INVALID / CONFIG_MISSING AppError
 * (exit 78). Pure: no I/O.
 *
 *   RELAY_LISTEN                host:port to listen on (IPv4 literal, [IPv6] literal or `0.0.0.0`)
 *   RELAY_TARGET                host:port of the ONE destination (a host name or IP literal); fixed
 *                               at start-up, never chosen by a client
 *   RELAY_MAX_CONNECTIONS       concurrent relayed connections (default 256); more are closed at once
 *   RELAY_IDLE_TIMEOUT_MS       a connection with no byte in either direction for this long is
 *                               closed (default 120000)
 *   RELAY_CONNECT_TIMEOUT_MS    bound on connecting to the target (default 5000)
 *   RELAY_SHUTDOWN_TIMEOUT_MS   SIGTERM: stop accepting, wait this long for open connections,
 *                               then close them (default 10000)
 *   LOG_LEVEL                   pino level (default info)
 *
 * Any other RELAY_* variable is refused (a misspelt limit must not silently fall back to a default).
 */
import {AppError} from '../errors';

export interface RelayEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface RelayConfig {
  readonly listen: RelayEndpoint;
  readonly target: RelayEndpoint;
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: string;
}

export const RELAY_ENV = [
  'RELAY_LISTEN',
  'RELAY_TARGET',
  'RELAY_MAX_CONNECTIONS',
  'RELAY_IDLE_TIMEOUT_MS',
  'RELAY_CONNECT_TIMEOUT_MS',
  'RELAY_SHUTDOWN_TIMEOUT_MS',
] as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:.]+$/i;

type Env = Readonly<Record<string, string | undefined>>;

function invalid(name: string, why: string): AppError {
  return new AppError('CONFIG_INVALID', `${name}: ${why}`, {variable: name});
}

function endpoint(env: Env, name: string, listen: boolean): RelayEndpoint {
  const v = env[name]?.trim();
  if (!v) throw new AppError('CONFIG_MISSING', `${name} is required (host:port)`, {variable: name});
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/i.exec(v);
  if (!m) throw invalid(name, 'must be host:port ([v6]:port for an IPv6 literal)');
  const port = Number(m[3]);
  // port 0 (listen only): any free port, logged in relay.listening (tests)
  if (port < (listen ? 0 : 1) || port > 65535) throw invalid(name, `port must be between ${listen ? 0 : 1} and 65535`);
  if (m[1] !== undefined) {
    if (!IPV6.test(m[1]) || !m[1].includes(':')) throw invalid(name, 'not an IPv6 literal');
    return Object.freeze({host: m[1], port});
  }
  const host = m[2].toLowerCase();
  // A listener binds an address; a target may be a name (resolved at each connect: a restarted
  // target container keeps its name, not its address).
  if (listen ? !IPV4.test(host) : !IPV4.test(host) && !HOSTNAME.test(host)) {
    throw invalid(name, listen ? 'the listen host must be an IP literal' : 'not a host name or IP literal');
  }
  // `1.2.3` or `0x7f.1` would be read as an address by the resolver; `0.0.0.0` means "this host"
  if (!listen && (host === '0.0.0.0' || (/^(?:0x[0-9a-f]+|\d+)(?:\.(?:0x[0-9a-f]+|\d+))*$/.test(host) && !IPV4.test(host))))
    throw invalid(name, 'not a usable target address');
  return Object.freeze({host, port});
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return def;
  if (!/^\d+$/.test(v)) throw invalid(name, 'must be a whole number');
  const n = Number(v);
  if (n < min || n > max) throw invalid(name, `must be between ${min} and ${max}`);
  return n;
}

export function parseRelayConfig(env: Env): RelayConfig {
  const known = new Set<string>(RELAY_ENV);
  const unknown = Object.keys(env).filter(k => k.startsWith('RELAY_') && !known.has(k));
  if (unknown.length > 0) throw invalid(unknown[0], `unknown relay variable (known: ${RELAY_ENV.join(', ')})`);
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw invalid('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  return Object.freeze({
    listen: endpoint(env, 'RELAY_LISTEN', true),
    target: endpoint(env, 'RELAY_TARGET', false),
    maxConnections: int(env, 'RELAY_MAX_CONNECTIONS', 256, 1, 65535),
    idleTimeoutMs: int(env, 'RELAY_IDLE_TIMEOUT_MS', 120_000, 1000, 3_600_000),
    connectTimeoutMs: int(env, 'RELAY_CONNECT_TIMEOUT_MS', 5000, 100, 60_000),
    shutdownTimeoutMs: int(env, 'RELAY_SHUTDOWN_TIMEOUT_MS', 10_000, 0, 300_000),
    logLevel,
  });
}
