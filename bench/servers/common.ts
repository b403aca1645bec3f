/**
 * Shared by the baseline servers (a) and (b): the service's own configuration parsing, TLS
 * material loading and TLS option building (so the handshake policy is identical), the
 * service's HTTP limits, and a per-connection identity cache for GET /whoami.
 */
import 'reflect-metadata';
import type {Server as HttpsServer} from 'node:https';
import type {TLSSocket} from 'node:tls';
import {AppConfig, parseConfig} from '../../src/config/config';
import {loadTlsMaterial} from '../../src/tls/tls-material';
import {buildServerTlsOptions} from '../../src/tls/tls-options';

export interface BaselineSetup {
  config: AppConfig;
  tlsOptions: Record<string, unknown>;
}

export async function baselineSetup(env: NodeJS.ProcessEnv = process.env): Promise<BaselineSetup> {
  const config = parseConfig(env);
  const material = await loadTlsMaterial(config.tls);
  return {config, tlsOptions: buildServerTlsOptions(config.tls, config.http, material)};
}

/** The same HTTP limits the service's TLS observer applies after listen. */
export function applyHttpLimits(server: HttpsServer, config: AppConfig): void {
  const h = config.http;
  server.maxRequestsPerSocket = h.maxRequestsPerSocket;
  server.requestTimeout = h.requestTimeoutMs;
  server.headersTimeout = h.headersTimeoutMs;
  server.keepAliveTimeout = h.keepAliveTimeoutMs;
}

export interface WhoamiIdentity {
  subject: string;
  issuer: string;
  serial: string;
  fingerprint256: string;
  sans: {dns: string[]; uri: string[]; email: string[]; ip: string[]};
}

const identityCache = new WeakMap<TLSSocket, {identity: WhoamiIdentity; json: string}>();

function sans(text: string | undefined): WhoamiIdentity['sans'] {
  const out: WhoamiIdentity['sans'] = {dns: [], uri: [], email: [], ip: []};
  for (const part of (text ?? '').split(', ')) {
    const i = part.indexOf(':');
    if (i < 0) continue;
    const [k, v] = [part.slice(0, i), part.slice(i + 1)];
    if (k === 'DNS') out.dns.push(v);
    else if (k === 'URI') out.uri.push(v);
    else if (k === 'email') out.email.push(v);
    else if (k === 'IP Address') out.ip.push(v);
  }
  return out;
}

/**
 * The client identity of the connection, computed once per connection (one
 * getPeerX509Certificate) and cached on the socket. undefined = no verified certificate.
 */
function cached(socket: TLSSocket): {identity: WhoamiIdentity; json: string} | undefined {
  const hit = identityCache.get(socket);
  if (hit !== undefined) return hit;
  if (!socket.authorized) return undefined;
  const leaf = socket.getPeerX509Certificate();
  if (!leaf) return undefined;
  const identity: WhoamiIdentity = {
    subject: leaf.subject.replace(/\n/g, ', '),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    serial: leaf.serialNumber.toUpperCase().replace(/^0+(?=.)/, ''),
    fingerprint256: leaf.fingerprint256,
    sans: sans(leaf.subjectAltName),
  };
  const entry = {identity, json: JSON.stringify(identity)};
  identityCache.set(socket, entry);
  return entry;
}

export function whoamiIdentity(socket: TLSSocket): WhoamiIdentity | undefined {
  return cached(socket)?.identity;
}

/** The /whoami JSON text (cached per connection). */
export function whoamiBody(socket: TLSSocket): string | undefined {
  return cached(socket)?.json;
}

/**
 * Variant (d)'s upstream: the identity nginx verified and passed in X-Client-* headers (subject
 * and issuer DN, serial). undefined when nginx did not say SUCCESS.
 */
export function proxiedIdentity(
  headers: Record<string, string | string[] | undefined>,
): {subject: string; issuer: string; serial: string} | undefined {
  if (headers['x-client-verify'] !== 'SUCCESS') return undefined;
  const one = (v: string | string[] | undefined) => (typeof v === 'string' ? v : '');
  return {subject: one(headers['x-client-subject']), issuer: one(headers['x-client-issuer']), serial: one(headers['x-client-serial'])};
}

export function echoBody(parsed: unknown): string {
  const keys = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? Object.keys(parsed).sort() : [];
  return JSON.stringify({received: true, keys});
}
