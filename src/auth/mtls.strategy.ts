/**
 * The `mtls` authentication strategy: the application-layer re-check of the client certificate.
 * Runs for every route (the component sets it as the default metadata).
 */
import {inject, injectable} from '@loopback/core';
import {AuthenticationStrategy, asAuthStrategy} from '@loopback/authentication';
import {Request} from '@loopback/rest';
import {securityId, UserProfile} from '@loopback/security';
import {TLSSocket} from 'node:tls';
import type {AppConfig} from '../config/config';
import {AppError} from '../errors';
import {AppBindings, TlsBindings} from '../keys';
import {audit, Logger} from '../logging/logger';
import type {ConnectionGate} from '../tls/connection-gate';
import type {RevocationStore} from '../tls/revocation/revocation-store';
import {matchIdentity} from './identity-rules';
import {identityOf} from './peer-identity';

@injectable(asAuthStrategy)
export class MtlsAuthenticationStrategy implements AuthenticationStrategy {
  readonly name = 'mtls';

  constructor(
    @inject(AppBindings.CONFIG) private readonly config: AppConfig,
    @inject(AppBindings.LOGGER) private readonly logger: Logger,
    @inject(TlsBindings.GATE) private readonly gate: ConnectionGate,
    @inject(TlsBindings.REVOCATION_STORE) private readonly revocation: RevocationStore,
  ) {}

  async authenticate(request: Request): Promise<UserProfile> {
    const socket = request.socket;
    const remote = socket.remoteAddress;
    const deny = (code: 'AUTH_NO_CLIENT_CERT' | 'AUTH_CERT_UNTRUSTED' | 'AUTH_IDENTITY_NOT_ALLOWED' | 'AUTH_CERT_REVOKED' | 'AUTH_REVOCATION_UNKNOWN', extra: Record<string, unknown> = {}) => {
      audit(this.logger, {event: 'auth.decision', decision: 'deny', code, remote, ...extra});
      return new AppError(code, 'client certificate refused');
    };
    if (!(socket instanceof TLSSocket)) throw deny('AUTH_NO_CLIENT_CERT');
    const peer = this.gate.peer(socket);
    if (!socket.authorized || !peer?.leaf) throw deny('AUTH_CERT_UNTRUSTED');
    const id = identityOf(peer.leaf);
    const who = {subject: id.subject, serial: id.serial, fingerprint: id.fingerprint256};
    const rules = this.config.mtls.allowedSubjects;
    const rule = rules === null ? undefined : matchIdentity(rules, id);
    if (rules !== null && !rule) throw deny('AUTH_IDENTITY_NOT_ALLOWED', who);
    let source: string | undefined;
    if (this.config.mtls.revocation.includes('crl')) {
      source = 'crl';
      const status = this.revocation.index.statusOfCertificate(peer.leaf).status;
      if (status === 'revoked') throw deny('AUTH_CERT_REVOKED', {...who, source});
      if (status === 'unknown' && this.config.mtls.revocationFail === 'closed') throw deny('AUTH_REVOCATION_UNKNOWN', {...who, source});
    }
    audit(this.logger, {event: 'auth.decision', decision: 'allow', ...who, rule: rule?.text, source, remote});
    return {
      [securityId]: id.fingerprint256,
      subject: id.subject,
      issuer: id.issuer,
      serial: id.serial,
      fingerprint256: id.fingerprint256,
      sans: {dns: id.dns, uri: id.uris, email: id.emails, ip: id.ips},
    };
  }
}
