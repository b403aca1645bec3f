/**
 * The connection gate: runs on the https server's `secureConnection` event, before any HTTP
 * byte of the connection is parsed (it is prepended ahead of Node's HTTP listener). It
 *  - parses the peer certificate once per connection and keeps it for the authenticator,
 *  - destroys the socket of a client whose certificate the CRL index lists as revoked
 *    (this also covers TLS sessions resumed from before a revocation),
 *  - tracks open connections, so a reload can close the ones the new CRL or CA bundle revokes,
 *  - writes one audit line for every handshake OpenSSL refused (tlsClientError).
 *
 * Plain Node: no LoopBack imports.
 */
import {X509Certificate} from 'node:crypto';
import type {Server as TlsServer, TLSSocket} from 'node:tls';
import type {CertificateRef} from './revocation/revocation-index';
import {audit, Logger} from '../logging/logger';

import type {RevocationStatus} from '../x509/revocation-status';

/** What the gate needs from the revocation index (src/tls/revocation). */
export interface RevocationView {
  statusOfCertificate(leaf: CertificateRef, now?: Date): {status: RevocationStatus};
}

/** Per-socket peer data, computed once per connection. */
export interface PeerInfo {
  readonly leaf: PeerLeaf | undefined;
  readonly connectedAt: number;
  readonly resumed: boolean;
}

/**
 * The code of a refused handshake: the certificate verdict OpenSSL reached (X509 verify error
 * name, e.g. CERT_HAS_EXPIRED) when there is one, else the TLS error code.
 */
export function handshakeRefusalCode(errCode: string | undefined, authorizationError: string | undefined): 'AUTH_NO_CLIENT_CERT' | 'AUTH_CERT_EXPIRED' | 'AUTH_CERT_NOT_YET_VALID' | 'AUTH_CERT_UNTRUSTED' | 'TLS_HANDSHAKE_FAILED' {
  if (errCode === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'AUTH_NO_CLIENT_CERT';
  if (authorizationError === 'CERT_HAS_EXPIRED') return 'AUTH_CERT_EXPIRED';
  if (authorizationError === 'CERT_NOT_YET_VALID') return 'AUTH_CERT_NOT_YET_VALID';
  if (authorizationError) return 'AUTH_CERT_UNTRUSTED';
  if (errCode && /CERTIFICATE|CERT_/.test(errCode)) return 'AUTH_CERT_UNTRUSTED';
  return 'TLS_HANDSHAKE_FAILED';
}

/**
 * The peer's leaf certificate as the gate keeps it: serial, fingerprint and DER from
 * getPeerCertificate() (about 20 µs), parsed into an X509Certificate only when something needs
 * the parse (an issuer match the revocation index has not cached, a reload sweep, a refusal's
 * audit line). Parsing costs about 140 µs per certificate with OpenSSL 3.0 (openssl/openssl#19119),
 * which made it the largest per-connection cost the gate added (docs/benchmarks-fixes.md).
 * Not socket.getPeerX509Certificate(): on Node 20.20 / OpenSSL 3.0 that call leaked the peer X509
 * in native memory in the soak (RSS +15 MB/min under mixed traffic; docs/reliability.md).
 */
export class PeerLeaf implements CertificateRef {
  private parsed: X509Certificate | undefined;

  constructor(
    readonly raw: Buffer,
    readonly serialNumber: string,
    readonly fingerprint256: string,
  ) {}

  /** The parsed certificate (parsed once; throws on DER OpenSSL would not have accepted). */
  x509(): X509Certificate {
    return (this.parsed ??= new X509Certificate(this.raw));
  }
}

/** The subject for an audit line (the parse is paid only on this refusal path). */
function subjectOf(leaf: PeerLeaf): string | undefined {
  try {
    return leaf.x509().subject;
  } catch {
    return undefined;
  }
}

/** The peer leaf of a socket, or undefined when there is none or the socket cannot say. */
export function peerLeaf(socket: {getPeerCertificate(): {raw?: Buffer; serialNumber?: string; fingerprint256?: string} | null}): PeerLeaf | undefined {
  try {
    const c = socket.getPeerCertificate();
    if (!c?.raw || c.raw.length === 0 || !c.serialNumber || !c.fingerprint256) return undefined;
    return new PeerLeaf(c.raw, c.serialNumber, c.fingerprint256);
  } catch {
    return undefined;
  }
}

export class ConnectionGate {
  private readonly peers = new WeakMap<TLSSocket, PeerInfo>();
  private readonly open = new Set<TLSSocket>();
  private server: TlsServer | undefined;

  constructor(
    private readonly revocation: () => RevocationView,
    private readonly logger: Logger,
  ) {}

  /** Install ahead of Node's own HTTP `secureConnection` listener. */
  attach(server: TlsServer): void {
    this.server = server;
    server.prependListener('secureConnection', this.onSecureConnection);
    server.on('tlsClientError', this.onTlsClientError);
    server.on('connection', this.rememberPeer);
  }

  detach(): void {
    this.server?.removeListener('secureConnection', this.onSecureConnection);
    this.server?.removeListener('tlsClientError', this.onTlsClientError);
    this.server?.removeListener('connection', this.rememberPeer);
    this.server = undefined;
  }

  /** Reading remoteAddress once caches it on the TCP socket, so it is still known after a reset. */
  private readonly rememberPeer = (raw: {remoteAddress?: string}): void => {
    void raw.remoteAddress;
  };

  /**
   * A handshake OpenSSL refused (untrusted, expired or missing client certificate, TLS 1.2,
   * no shared cipher, ...) or that was abandoned: one audit line, so every refused client is on
   * record even though no HTTP request ever arrives. Node destroys the socket itself.
   */
  private readonly onTlsClientError = (err: NodeJS.ErrnoException, socket: TLSSocket): void => {
    const authorizationError = (socket as TLSSocket & {authorizationError?: unknown}).authorizationError;
    audit(this.logger, {
      event: 'tls.connection', decision: 'deny',
      code: handshakeRefusalCode(err.code, typeof authorizationError === 'string' ? authorizationError : undefined),
      reason: typeof authorizationError === 'string' ? authorizationError : err.code ?? 'handshake failed',
      // The TLS socket may already be closed; its TCP socket cached the peer (rememberPeer).
      remote: socket.remoteAddress ?? (socket as TLSSocket & {_parent?: {remoteAddress?: string}})._parent?.remoteAddress,
    });
  };

  get openConnections(): number {
    return this.open.size;
  }

  sockets(): IterableIterator<TLSSocket> {
    return this.open.values();
  }

  /** Peer data for a request's socket (undefined when the socket did not pass the gate). */
  peer(socket: TLSSocket): PeerInfo | undefined {
    return this.peers.get(socket);
  }

  private readonly onSecureConnection = (socket: TLSSocket): void => {
    const leaf = peerLeaf(socket);
    // remoteAddress is a getpeername(2) call: only made for the audit line of a refusal.
    if (!leaf || !socket.authorized) {
      // rejectUnauthorized already refuses these; this is the belt to its braces.
      audit(this.logger, {event: 'tls.connection', decision: 'deny', code: 'AUTH_CERT_UNTRUSTED', remote: socket.remoteAddress});
      socket.destroy();
      return;
    }
    const verdict = this.check(leaf);
    if (verdict === 'revoked') {
      audit(this.logger, {
        event: 'tls.connection', decision: 'deny', code: 'AUTH_CERT_REVOKED', source: 'crl',
        serial: leaf.serialNumber, subject: subjectOf(leaf), fingerprint: leaf.fingerprint256, remote: socket.remoteAddress,
        resumed: socket.isSessionReused(),
      });
      socket.destroy();
      return;
    }
    this.peers.set(socket, {leaf, connectedAt: Date.now(), resumed: socket.isSessionReused()});
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
  };

  private check(leaf: PeerLeaf): RevocationStatus {
    try {
      return this.revocation().statusOfCertificate(leaf).status;
    } catch (e) {
      // An index failure must not let a connection through unchecked: treat as revoked (closed).
      this.logger.error({err: e, code: 'CRL_RELOAD_FAILED'}, 'revocation lookup failed at the connection gate');
      return 'revoked';
    }
  }

  /**
   * After a revocation or trust reload: close every open connection whose certificate is now
   * revoked, or that `stillTrusted` rejects. Returns how many were closed.
   */
  sweep(stillTrusted: (leaf: X509Certificate) => boolean): number {
    let closed = 0;
    for (const socket of [...this.open]) {
      const leaf = this.peers.get(socket)?.leaf;
      if (!leaf) continue;
      const revoked = this.check(leaf) === 'revoked';
      let trusted: boolean;
      try {
        trusted = !revoked && stillTrusted(leaf.x509());
      } catch {
        trusted = false; // unparseable now: closed, never kept
      }
      if (revoked || !trusted) {
        audit(this.logger, {
          event: 'tls.connection', decision: 'deny', code: revoked ? 'AUTH_CERT_REVOKED' : 'AUTH_CHAIN_INVALID',
          reason: 'reload', serial: leaf.serialNumber, fingerprint: leaf.fingerprint256, remote: socket.remoteAddress,
        });
        socket.destroy();
        this.open.delete(socket);
        closed++;
      }
    }
    return closed;
  }
}
