/**
 * The connection gate: runs on the https server's `secureConnection` event, in place of Node's
 * HTTP connection listener (see ConnectionGate), before any HTTP byte of the connection is
 * parsed. It
 *  - judges every client with OpenSSL's verdict (rejectUnauthorized is off), the key size, the
 *    EKU and the CRL index (resumed TLS sessions too), and answers a refused one itself with a
 *    fixed coded 401/403 + `Connection: close`, never handing its socket to the HTTP server,
 *  - parses the peer certificate once per connection and keeps it for the authenticator,
 *  - tracks open connections, so a reload can close the ones the new CRL or CA bundle revokes,
 *  - writes one audit line for every refusal, with the exact reason, and for every handshake
 *    OpenSSL refused (tlsClientError), with a coded reason.
 *
 * Plain Node: no LoopBack imports.
 */
import {X509Certificate} from 'node:crypto';
import type {Server as TlsServer, TLSSocket} from 'node:tls';
import type {CertificateRef} from './revocation/revocation-index';
import {STATUS_CODES} from 'node:http';
import {ERROR_CODES} from '../errors';
import {audit, Logger} from '../logging/logger';
import {parseCertificate} from '../x509/certificate';
import {keyStrength} from '../x509/key-strength';

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
 * The code of a handshake OpenSSL itself refused (tlsClientError): with rejectUnauthorized off,
 * certificate verdicts no longer end here (the gate answers them over HTTP), so this is about
 * protocol version, cipher, timeout, reset, not TLS. The X509 verify name or the TLS error code
 * is mapped to the coded reason the audit line keeps (never a bare ECONNRESET).
 */
export function handshakeRefusalCode(
  errCode: string | undefined,
  authorizationError: string | undefined,
): 'AUTH_NO_CLIENT_CERT' | 'AUTH_CERT_EXPIRED' | 'AUTH_CERT_NOT_YET_VALID' | 'AUTH_CERT_UNTRUSTED' | 'TLS_HANDSHAKE_FAILED' {
  if (errCode === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'AUTH_NO_CLIENT_CERT';
  if (authorizationError === 'CERT_HAS_EXPIRED') return 'AUTH_CERT_EXPIRED';
  if (authorizationError === 'CERT_NOT_YET_VALID') return 'AUTH_CERT_NOT_YET_VALID';
  if (authorizationError) return 'AUTH_CERT_UNTRUSTED';
  if (errCode && /CERTIFICATE|CERT_/.test(errCode)) return 'AUTH_CERT_UNTRUSTED';
  return 'TLS_HANDSHAKE_FAILED';
}

/** The coded reason of a failed handshake (the audit line's `reason`); `tlsError` keeps Node's code. */
export function handshakeFailureReason(errCode: string | undefined): string {
  switch (errCode) {
    case 'ECONNRESET':
    case 'EPIPE':
      return 'HANDSHAKE_ABANDONED'; // TCP connect (port scan, health probe) or a client that gave up
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return 'HANDSHAKE_TIMEOUT';
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_NO_PROTOCOLS_AVAILABLE':
    case 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION':
      return 'PROTOCOL_VERSION';
    case 'ERR_SSL_NO_SHARED_CIPHER':
    case 'ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM':
    case 'ERR_SSL_NO_SUITABLE_KEY_SHARE':
    case 'ERR_SSL_NO_SHARED_GROUPS':
      return 'NO_SHARED_PARAMETERS';
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_HTTP_REQUEST':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
    case 'ERR_SSL_UNEXPECTED_MESSAGE':
    case 'ERR_SSL_RECORD_LENGTH_MISMATCH':
      return 'NON_TLS';
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return 'NO_CLIENT_CERT';
    default:
      return errCode && /ALERT/.test(errCode) ? 'PEER_ALERT' : 'TLS_ERROR';
  }
}

/** The refusals the gate answers itself (status and doc from src/errors.ts). */
export type GateRefusalCode =
  | 'AUTH_NO_CLIENT_CERT'
  | 'AUTH_CERT_UNTRUSTED'
  | 'AUTH_CERT_EXPIRED'
  | 'AUTH_CERT_NOT_YET_VALID'
  | 'AUTH_KEY_WEAK'
  | 'AUTH_EKU_NOT_CLIENT_AUTH'
  | 'AUTH_CERT_REVOKED'
  | 'AUTH_CERT_MALFORMED';

/** What the peer's certificate tells about the leaf, plus OpenSSL's verify result. */
export interface PeerFacts {
  /** A leaf certificate was presented (this connection or the resumed session). */
  readonly present: boolean;
  /** OpenSSL's X509 verify result name (socket.authorizationError), undefined when it verified. */
  readonly authorizationError?: string;
  /** Key size in bits (RSA modulus, EC field); undefined for Ed25519/Ed448. */
  readonly bits?: number;
  /** True for an RSA key (rsaEncryption or RSASSA-PSS). */
  readonly rsa?: boolean;
  /** extendedKeyUsage OIDs; undefined when the extension is absent. */
  readonly extKeyUsage?: readonly string[];
  /** The strict DER reader refused the certificate (OpenSSL accepted it). */
  readonly malformed?: boolean;
}

export const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** X509 verify results that mean "key or digest too weak" (OpenSSL security level). */
const WEAK_KEY_ERRORS = new Set(['EE_KEY_TOO_SMALL', 'CA_KEY_TOO_SMALL', 'CA_MD_TOO_WEAK']);

/**
 * Pure verdict of the gate on a presented certificate, before revocation: undefined = passes,
 * else the code and the exact reason for the audit line. Mirrors the authenticator's cheap checks
 * (EKU, key size) so a refused client never reaches routing; the authenticator re-checks everything.
 */
export function classifyPeer(f: PeerFacts): {code: GateRefusalCode; reason: string} | undefined {
  if (!f.present) return {code: 'AUTH_NO_CLIENT_CERT', reason: 'NO_CLIENT_CERT'};
  // Node reports a verify error it has no name for (EE_KEY_TOO_SMALL among them) as UNSPECIFIED.
  const weak = f.bits !== undefined && (f.rsa ? f.bits < 2048 : f.bits < 256);
  const e = f.authorizationError;
  if (e) {
    if (e === 'CERT_HAS_EXPIRED') return {code: 'AUTH_CERT_EXPIRED', reason: e};
    if (e === 'CERT_NOT_YET_VALID') return {code: 'AUTH_CERT_NOT_YET_VALID', reason: e};
    if (e === 'CERT_REVOKED') return {code: 'AUTH_CERT_REVOKED', reason: e};
    if (WEAK_KEY_ERRORS.has(e)) return {code: 'AUTH_KEY_WEAK', reason: e};
    if (e === 'UNSPECIFIED' && weak) return {code: 'AUTH_KEY_WEAK', reason: 'EE_KEY_TOO_SMALL'};
    if (e === 'INVALID_PURPOSE') return {code: 'AUTH_EKU_NOT_CLIENT_AUTH', reason: e};
    return {code: 'AUTH_CERT_UNTRUSTED', reason: e};
  }
  if (f.malformed) return {code: 'AUTH_CERT_MALFORMED', reason: 'CERTIFICATE_MALFORMED'};
  if (weak) return {code: 'AUTH_KEY_WEAK', reason: 'EE_KEY_TOO_SMALL'};
  if (!f.extKeyUsage) return {code: 'AUTH_EKU_NOT_CLIENT_AUTH', reason: 'NO_EXTENDED_KEY_USAGE'};
  if (!f.extKeyUsage.includes(OID_CLIENT_AUTH)) return {code: 'AUTH_EKU_NOT_CLIENT_AUTH', reason: 'INVALID_PURPOSE'};
  return undefined;
}

/** Fixed messages of the gate's answers (never derived from the client's input). */
const GATE_MESSAGES: Record<GateRefusalCode, string> = {
  AUTH_NO_CLIENT_CERT: 'a client certificate is required',
  AUTH_CERT_UNTRUSTED: 'the client certificate is not issued by a trusted CA',
  AUTH_CERT_EXPIRED: 'the client certificate has expired',
  AUTH_CERT_NOT_YET_VALID: 'the client certificate is not yet valid',
  AUTH_KEY_WEAK: 'the client certificate key is too weak',
  AUTH_EKU_NOT_CLIENT_AUTH: 'the client certificate is not valid for client authentication',
  AUTH_CERT_REVOKED: 'the client certificate is revoked',
  AUTH_CERT_MALFORMED: 'the client certificate could not be parsed',
};

/**
 * The gate's whole HTTP answer to a refused client: the code's status from src/errors.ts, the
 * coded JSON body, the given (security) headers and `Connection: close`.
 */
export function gateRefusalResponse(code: GateRefusalCode, headers: Readonly<Record<string, string>> = {}): string {
  const status = ERROR_CODES[code].status;
  const body = JSON.stringify({error: {code, message: GATE_MESSAGES[code]}});
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\n${extra}Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export interface GateOptions {
  /** Bytes of the refused client's first request read (and discarded) before the answer. */
  readonly maxRequestBytes: number;
  /** Time the refused client has to send its request head before it is answered anyway. */
  readonly readTimeoutMs: number;
  /** After the answer: time to drain the client's remaining bytes before the socket is destroyed. */
  readonly lingerMs: number;
  /** Headers added to every gate answer (the service's security headers). */
  readonly headers: Readonly<Record<string, string>>;
}

export const DEFAULT_GATE_OPTIONS: GateOptions = {maxRequestBytes: 16_384, readTimeoutMs: 5000, lingerMs: 1000, headers: {}};

/**
 * The peer's leaf certificate as the gate keeps it: DER, serial and fingerprint, read once per
 * connection from socket.getPeerX509Certificate() (OpenSSL's own parse of the handshake's
 * certificate, wrapped without a re-parse: a few µs per field). Not getPeerCertificate(), which
 * builds the whole legacy object (names, three fingerprints, the modulus in hex) at about 125 µs
 * per call on Node 24: it was the largest per-handshake cost the gate added
 * (docs/benchmarks-fixes.md). (On Node 20.20 / OpenSSL 3.0 the soak found getPeerX509Certificate()
 * leaking the peer X509. On Node 24 a 6-minute soak grows its RSS the same with it and with
 * getPeerCertificate(), about 20 MB/min for both: docs/benchmarks-fixes.md, "Soak on Node 24".)
 */
export class PeerLeaf implements CertificateRef {
  private parsed: X509Certificate | undefined;

  constructor(
    readonly raw: Buffer,
    readonly serialNumber: string,
    readonly fingerprint256: string,
    parsed?: X509Certificate,
  ) {
    this.parsed = parsed;
  }

  /** The parsed certificate (the socket's, else parsed once; throws on DER OpenSSL would not have accepted). */
  x509(): X509Certificate {
    return (this.parsed ??= new X509Certificate(this.raw));
  }
}

/**
 * The subject for an audit line in the RFC 4514 form used by every other audit line
 * (`CN=…,O=…`); the parse is paid only on this refusal path.
 */
function subjectOf(leaf: PeerLeaf): string | undefined {
  try {
    return parseCertificate(leaf.raw).subject;
  } catch {
    return undefined;
  }
}

/** What the gate reads of a socket's peer. */
interface PeerSource {
  getPeerX509Certificate(): X509Certificate | undefined;
}

/** The facts classifyPeer() judges, besides OpenSSL's verdict. */
type LeafFacts = Pick<PeerFacts, 'bits' | 'rsa' | 'extKeyUsage' | 'malformed'>;

/** The peer leaf of a socket, or undefined when there is none or the socket cannot say. */
export function peerLeaf(socket: PeerSource): PeerLeaf | undefined {
  return peerOf(socket).leaf;
}

/** The leaf and the facts the gate judges, from one getPeerX509Certificate() call. */
function peerOf(socket: PeerSource): {leaf?: PeerLeaf; facts?: LeafFacts} {
  let x: X509Certificate | undefined;
  let leaf: PeerLeaf;
  let raw: Buffer;
  try {
    x = socket.getPeerX509Certificate();
    if (!x) return {};
    raw = x.raw;
    if (!raw || raw.length === 0) return {};
    leaf = new PeerLeaf(raw, x.serialNumber, x.fingerprint256, x);
  } catch {
    // A socket that cannot say (closed, no certificate): no leaf, so the gate refuses it.
    return {};
  }
  try {
    const key = keyStrength(raw);
    return {leaf, facts: {bits: key.bits, rsa: key.algorithm === 'rsa' || key.algorithm === 'rsa-pss', extKeyUsage: x.keyUsage}};
  } catch {
    // DER the strict reader refuses (the authenticator's parse would refuse it too).
    return {leaf, facts: {malformed: true}};
  }
}

type SecureConnectionListener = (this: TlsServer, socket: TLSSocket) => void;

/**
 * The gate. With `requestCert: true, rejectUnauthorized: false` every handshake that OpenSSL can
 * complete ends in `secureConnection`, with OpenSSL's verdict in socket.authorizationError. The
 * gate takes the place of every `secureConnection` listener present at attach() time (Node's
 * HTTP connection listener, which creates the HTTP parser for the socket, and the graceful-close
 * tracker): an admitted socket is handed to them, a refused one never is — no HTTP parser, no
 * routing, no handler ever sees its bytes. The gate answers it itself, the nginx way: reads and
 * discards the first request head (bounded in bytes and time), writes one fixed coded answer with
 * `Connection: close`, ends the TLS stream (close_notify) and destroys the socket after a short
 * drain.
 */
export class ConnectionGate {
  private readonly peers = new WeakMap<TLSSocket, PeerInfo>();
  private readonly open = new Set<TLSSocket>();
  private readonly refusing = new Set<TLSSocket>();
  private server: TlsServer | undefined;
  private downstream: SecureConnectionListener[] = [];
  private readonly options: GateOptions;

  constructor(
    private readonly revocation: () => RevocationView,
    private readonly logger: Logger,
    options: Partial<GateOptions> = {},
  ) {
    this.options = {...DEFAULT_GATE_OPTIONS, ...options};
  }

  /**
   * Take the place of the server's `secureConnection` listeners (see the class comment). Attach
   * after the HTTP server is created: a listener added later would see refused sockets too.
   */
  attach(server: TlsServer): void {
    this.server = server;
    server.removeListener('secureConnection', this.refuseAll);
    this.downstream = server.listeners('secureConnection') as SecureConnectionListener[];
    for (const l of this.downstream) server.removeListener('secureConnection', l);
    server.on('secureConnection', this.onSecureConnection);
    server.on('tlsClientError', this.onTlsClientError);
    server.on('connection', this.rememberPeer);
  }

  detach(): void {
    const server = this.server;
    if (!server) return;
    server.removeListener('secureConnection', this.onSecureConnection);
    server.removeListener('tlsClientError', this.onTlsClientError);
    server.removeListener('connection', this.rememberPeer);
    // A server still accepting gets its listeners back; Node's own rejectUnauthorized is off, so
    // without the gate no socket would be admitted: connections still arriving are refused instead.
    server.on('secureConnection', this.refuseAll);
    this.server = undefined;
  }

  private readonly refuseAll = (socket: TLSSocket): void => {
    socket.destroy();
  };

  /** Reading remoteAddress once caches it on the TCP socket, so it is still known after a reset. */
  private readonly rememberPeer = (raw: {remoteAddress?: string}): void => {
    void raw.remoteAddress;
  };

  /**
   * A handshake OpenSSL refused (TLS 1.2, no shared cipher or group, not TLS, timeout) or that
   * was abandoned (a bare TCP connect): one audit line with a coded reason, so every refused
   * client is on record even though no HTTP request ever arrives. Node destroys the socket itself.
   */
  private readonly onTlsClientError = (err: NodeJS.ErrnoException, socket: TLSSocket): void => {
    const authorizationError = (socket as TLSSocket & {authorizationError?: unknown}).authorizationError;
    audit(this.logger, {
      event: 'tls.connection',
      decision: 'deny',
      code: handshakeRefusalCode(err.code, typeof authorizationError === 'string' ? authorizationError : undefined),
      reason: typeof authorizationError === 'string' ? authorizationError : handshakeFailureReason(err.code),
      tlsError: err.code,
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
    const {leaf, facts} = peerOf(socket);
    const authorizationError = socket.authorized ? undefined : String(socket.authorizationError ?? 'UNSPECIFIED');
    const refusal = classifyPeer({present: leaf !== undefined, authorizationError, ...facts});
    if (refusal || !leaf) {
      const r = refusal ?? {code: 'AUTH_NO_CLIENT_CERT' as const, reason: 'NO_CLIENT_CERT'};
      // remoteAddress is a getpeername(2) call: only made for the audit line of a refusal.
      audit(this.logger, {
        event: 'tls.connection',
        decision: 'deny',
        code: r.code,
        reason: r.reason,
        ...(leaf ? {serial: leaf.serialNumber, subject: subjectOf(leaf), fingerprint: leaf.fingerprint256} : {}),
        remote: socket.remoteAddress,
        resumed: socket.isSessionReused(),
      });
      this.refuse(socket, r.code);
      return;
    }
    const verdict = this.check(leaf);
    if (verdict === 'revoked') {
      audit(this.logger, {
        event: 'tls.connection',
        decision: 'deny',
        code: 'AUTH_CERT_REVOKED',
        reason: 'CERT_REVOKED',
        source: 'crl',
        serial: leaf.serialNumber,
        subject: subjectOf(leaf),
        fingerprint: leaf.fingerprint256,
        remote: socket.remoteAddress,
        resumed: socket.isSessionReused(),
      });
      this.refuse(socket, 'AUTH_CERT_REVOKED');
      return;
    }
    this.peers.set(socket, {leaf, connectedAt: Date.now(), resumed: socket.isSessionReused()});
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    for (const l of this.downstream) l.call(this.server!, socket);
  };

  /** Refused connections being answered (not yet closed). */
  get refusingConnections(): number {
    return this.refusing.size;
  }

  /**
   * Answer a refused client on the raw TLS socket: read (and discard) up to the end of its first
   * request head, at most maxRequestBytes and readTimeoutMs, then the fixed answer, close_notify,
   * and a bounded drain so the client's unread bytes do not turn the close into a reset that
   * would destroy the answer before the client reads it.
   */
  private refuse(socket: TLSSocket, code: GateRefusalCode): void {
    const {maxRequestBytes, readTimeoutMs, lingerMs, headers} = this.options;
    this.refusing.add(socket);
    let seen = 0;
    let tail = '';
    let answered = false;
    let kill = setTimeout(() => socket.destroy(), readTimeoutMs + lingerMs);
    kill.unref();
    const answer = (): void => {
      if (answered) return;
      answered = true;
      clearTimeout(wait);
      clearTimeout(kill);
      kill = setTimeout(() => socket.destroy(), lingerMs);
      kill.unref();
      if (!socket.destroyed && socket.writable) socket.end(gateRefusalResponse(code, headers));
      else socket.destroy();
    };
    const wait = setTimeout(answer, readTimeoutMs);
    wait.unref();
    socket.on('data', (chunk: Buffer) => {
      if (answered) return; // discarded while draining
      seen += chunk.length;
      tail = (tail + chunk.toString('latin1')).slice(-4096);
      if (seen >= maxRequestBytes || tail.includes('\r\n\r\n') || tail.includes('\n\n')) answer();
    });
    socket.on('error', () => socket.destroy());
    socket.on('end', () => {
      if (!answered) answer();
    });
    socket.once('close', () => {
      clearTimeout(wait);
      clearTimeout(kill);
      this.refusing.delete(socket);
    });
  }

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
          event: 'tls.connection',
          decision: 'deny',
          code: revoked ? 'AUTH_CERT_REVOKED' : 'AUTH_CHAIN_INVALID',
          reason: 'reload',
          serial: leaf.serialNumber,
          fingerprint: leaf.fingerprint256,
          remote: socket.remoteAddress,
        });
        socket.destroy();
        this.open.delete(socket);
        closed++;
      }
    }
    return closed;
  }
}
