/**
 * The connection gate: runs on the https server's `secureConnection` event, before any HTTP
 * byte of the connection is parsed (it is prepended ahead of Node's HTTP listener). It
 *  - parses the peer certificate once per connection and keeps it for the authenticator,
 *  - destroys the socket of a client whose certificate the CRL index lists as revoked
 *    (this also covers TLS sessions resumed from before a revocation),
 *  - tracks open connections, so a reload can close the ones the new CRL or CA bundle revokes.
 *
 * Plain Node: no LoopBack imports.
 */
import type {X509Certificate} from 'node:crypto';
import type {Server as TlsServer, TLSSocket} from 'node:tls';
import {audit, Logger} from '../logging/logger';

export type RevocationStatus = 'revoked' | 'good' | 'unknown';

/** What the gate needs from the revocation index (src/tls/revocation). */
export interface RevocationView {
  statusOfCertificate(leaf: X509Certificate, now?: Date): {status: RevocationStatus};
}

/** Per-socket peer data, computed once per connection. */
export interface PeerInfo {
  readonly leaf: X509Certificate | undefined;
  readonly connectedAt: number;
  readonly resumed: boolean;
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
  }

  detach(): void {
    this.server?.removeListener('secureConnection', this.onSecureConnection);
    this.server = undefined;
  }

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
    let leaf: X509Certificate | undefined;
    try {
      leaf = socket.getPeerX509Certificate();
    } catch {
      leaf = undefined;
    }
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
        serial: leaf.serialNumber, subject: leaf.subject, fingerprint: leaf.fingerprint256, remote: socket.remoteAddress,
        resumed: socket.isSessionReused(),
      });
      socket.destroy();
      return;
    }
    this.peers.set(socket, {leaf, connectedAt: Date.now(), resumed: socket.isSessionReused()});
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
  };

  private check(leaf: X509Certificate): RevocationStatus {
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
      if (revoked || !stillTrusted(leaf)) {
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
