/**
 * The `mtls` authentication strategy: a thin LoopBack wrapper around MtlsAuthenticator (the
 * application-layer re-check of the client certificate, see mtls-authenticator.ts). Runs for
 * every route (the component sets it as the default metadata).
 *
 * The socket's peer data comes from the connection gate (parsed once per connection); the
 * presented chain is read from the socket only when the per-connection verdict cache misses.
 * A denial throws AppError with the decision's code; the reject provider answers 401/403 with
 * `{error: {code, message}}` and no certificate detail.
 */
import {BindingScope, inject, injectable} from '@loopback/core';
import {AuthenticationStrategy, asAuthStrategy} from '@loopback/authentication';
import {Request} from '@loopback/rest';
import {securityId, UserProfile} from '@loopback/security';
import type {DetailedPeerCertificate} from 'node:tls';
import {TLSSocket} from 'node:tls';
import {AppError} from '../errors';
import {TlsBindings} from '../keys';
import {peerLeaf} from '../tls/connection-gate';
import type {ConnectionGate} from '../tls/connection-gate';
import {MtlsAuthBindings} from './keys';
import type {MtlsAuthenticator, MtlsProfile} from './mtls-authenticator';

/** More than this many issuer links in a peer chain is not followed (the authenticator refuses long chains anyway). */
const MAX_CHAIN_LINKS = 10;

/** DER of the certificates the peer presented after its leaf (issuer first), from Node's peer chain. */
export function presentedChainDer(socket: TLSSocket): Buffer[] {
  let detailed: DetailedPeerCertificate;
  try {
    detailed = socket.getPeerCertificate(true);
  } catch {
    return [];
  }
  const out: Buffer[] = [];
  const seen = new Set<string>();
  if (detailed?.fingerprint256) seen.add(detailed.fingerprint256);
  let cur = detailed?.issuerCertificate;
  while (cur?.raw && !seen.has(cur.fingerprint256) && out.length < MAX_CHAIN_LINKS) {
    seen.add(cur.fingerprint256);
    out.push(cur.raw);
    cur = cur.issuerCertificate;
  }
  return out;
}

/** The UserProfile bound to SecurityBindings.USER. */
export function toUserProfile(p: MtlsProfile): UserProfile {
  return {
    [securityId]: p.fingerprint256,
    subject: p.subject,
    issuer: p.issuer,
    serial: p.serial,
    fingerprint256: p.fingerprint256,
    sans: {dns: [...p.sans.dns], uri: [...p.sans.uri], email: [...p.sans.email], ip: [...p.sans.ip]},
    commonNames: p.commonNames,
    caFingerprints256: p.caFingerprints256,
  };
}

@injectable(asAuthStrategy, {scope: BindingScope.SINGLETON})
export class MtlsAuthenticationStrategy implements AuthenticationStrategy {
  readonly name = 'mtls';

  constructor(
    @inject(MtlsAuthBindings.AUTHENTICATOR) private readonly authenticator: MtlsAuthenticator,
    @inject(TlsBindings.GATE) private readonly gate: ConnectionGate,
  ) {}

  async authenticate(request: Request): Promise<UserProfile> {
    const socket = request.socket;
    const tlsSocket = socket instanceof TLSSocket ? socket : undefined;
    const peer = tlsSocket ? this.gate.peer(tlsSocket) : undefined;
    // A socket the gate did not admit: the raw DER from getPeerCertificate() for the audit line
    // (never getPeerX509Certificate(), which leaks the peer X509 in native memory; see PeerLeaf).
    const leafDer: Buffer | undefined = peer?.leaf?.raw ?? (tlsSocket ? peerLeaf(tlsSocket)?.raw : undefined);
    const result = await this.authenticator.authenticate({
      leafDer,
      chainDer: () => (tlsSocket ? presentedChainDer(tlsSocket) : []),
      // A socket the connection gate did not admit is never trusted, whatever OpenSSL said.
      tlsAuthorized: tlsSocket?.authorized === true && peer !== undefined,
      remoteAddress: socket.remoteAddress,
      ...(tlsSocket ? {connection: tlsSocket} : {}),
    });
    if (!result.ok) throw new AppError(result.code, result.code === 'INTERNAL_ERROR' ? 'internal error' : 'client certificate refused');
    return toUserProfile(result.profile);
  }
}
