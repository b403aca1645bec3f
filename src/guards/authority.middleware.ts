/**
 * The authority guard as LoopBack middleware (thin wrapper over authority-policy.ts): Host,
 * absolute-form target, SNI and forwarding headers, checked for every request right after the
 * HTTP limits and before the request guard and findRoute (so unmatched routes are covered too).
 * A refusal throws the coded AppError (421/400/403, rendered by the reject action with the
 * security headers) after one audit line; the raw header value is never echoed or logged.
 */
import {Middleware} from '@loopback/rest';
import type {X509Certificate} from 'node:crypto';
import type {TLSSocket} from 'node:tls';
import type {AppConfig} from '../config/config';
import {AppError} from '../errors';
import {audit, Logger} from '../logging/logger';
import {AuthorityPolicy, canonicalName, checkRequestAuthority, namesFromSubjectAltName} from './authority-policy';
import {parseCidrList} from '../outbound/ip-policy';

export const AUTHORITY_GUARD_GROUP = 'authorityGuard';

export interface AuthorityGuardOptions {
  readonly config: Pick<AppConfig, 'serverNames' | 'proxy'>;
  /** The server certificate in force (follows hot reloads). */
  readonly serverCert: () => X509Certificate;
  readonly logger: Logger;
}

/**
 * The policy for the certificate in force: SERVER_NAMES when set, else the certificate's DNS and
 * IP SANs, recomputed only when a reload replaced the certificate.
 */
export function authorityPolicySource(o: AuthorityGuardOptions): () => AuthorityPolicy {
  const trustedProxies = parseCidrList(o.config.proxy.trustedProxies);
  const configured = o.config.serverNames.names?.map(n => canonicalName(n)).filter((n): n is string => n !== undefined);
  if (configured) {
    const fixed: AuthorityPolicy = {serverNames: configured, trustedProxies};
    return () => fixed;
  }
  let cert: X509Certificate | undefined;
  let policy: AuthorityPolicy | undefined;
  return () => {
    const current = o.serverCert();
    if (current !== cert || !policy) {
      cert = current;
      policy = {serverNames: namesFromSubjectAltName(current.subjectAltName), trustedProxies};
    }
    return policy;
  };
}

export function createAuthorityMiddleware(o: AuthorityGuardOptions): Middleware {
  const policy = authorityPolicySource(o);
  return async (ctx, next) => {
    const req = ctx.request;
    const socket = req.socket as Partial<TLSSocket>;
    const verdict = checkRequestAuthority(
      {host: req.headers.host, url: req.url, sni: socket.servername ?? undefined, peer: req.socket.remoteAddress, headers: req.headers},
      policy(),
    );
    if (!verdict.ok) {
      audit(o.logger, {
        event: 'guard.decision',
        decision: 'deny',
        code: verdict.code,
        rule: 'authority',
        reason: verdict.reason,
        location: verdict.header,
        remote: req.socket.remoteAddress,
      });
      throw new AppError(
        verdict.code,
        verdict.code === 'GUARD_HOST_NOT_ALLOWED' ? 'the request does not address this server' : 'forwarding headers refused',
      );
    }
    return next();
  };
}
