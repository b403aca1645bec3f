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

const frozen = <T>(items: readonly T[]): T[] => Object.freeze([...items]) as T[];

/**
 * The UserProfile bound to SecurityBindings.USER: frozen, so one object can serve every request
 * of a verdict (see userProfileOf) and no handler can change the identity a later step reads.
 */
export function toUserProfile(p: MtlsProfile): UserProfile {
  return Object.freeze({
    [securityId]: p.fingerprint256,
    subject: p.subject,
    issuer: p.issuer,
    serial: p.serial,
    fingerprint256: p.fingerprint256,
    sans: Object.freeze({dns: frozen(p.sans.dns), uri: frozen(p.sans.uri), email: frozen(p.sans.email), ip: frozen(p.sans.ip)}),
    commonNames: frozen(p.commonNames),
    caFingerprints256: frozen(p.caFingerprints256),
  });
}

/**
 * One UserProfile per authenticator profile: a cached verdict hands out the same MtlsProfile for
 * every request of a connection (and of the certificate), so the same frozen UserProfile is bound,
 * and the authorizer's per-identity cache finds it by identity (src/authz).
 */
const profiles = new WeakMap<MtlsProfile, UserProfile>();

export function userProfileOf(p: MtlsProfile): UserProfile {
  let u = profiles.get(p);
  if (!u) profiles.set(p, (u = toUserProfile(p)));
  return u;
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
    // A socket the gate did not admit: the raw DER, read as the gate reads it (PeerLeaf), for the audit line.
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
    return userProfileOf(result.profile);
  }
}
