/**
 * Life-cycle observer in the `tls` group, ordered right after the `server` group (see
 * application.ts): once the https.Server listens it installs the connection gate, the
 * malformed-HTTP answer, the server's HTTP limits and the hot reloader; on stop (which runs
 * before the server group stops) it stops reloading and marks the app as shutting down.
 */
import {inject, lifeCycleObserver, LifeCycleObserver} from '@loopback/core';
import {RestBindings, RestServer} from '@loopback/rest';
import type {Server as HttpsServer} from 'node:https';
import type {Socket} from 'node:net';
import type {AppConfig} from '../config/config';
import {AppBindings, TlsBindings} from '../keys';
import type {Logger} from '../logging/logger';
import {SECURITY_HEADERS} from '../middleware/security-headers.middleware';
import type {ConnectionGate} from '../tls/connection-gate';
import type {RevocationStore} from '../tls/revocation/revocation-store';
import {TlsReloader, TlsState} from '../tls/tls-reloader';

export const TLS_OBSERVER_GROUP = 'tls';

/** A coded, header-hardened answer for requests Node's HTTP parser refused (the code's status is the HTTP status). */
export function clientErrorResponse(errCode: string | undefined): string {
  const [status, reason, code, message] =
    errCode === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'HTTP_HEADERS_TOO_LARGE', 'request headers too large']
      : errCode === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'HTTP_REQUEST_TIMEOUT', 'request not received in time']
        : [400, 'Bad Request', 'BAD_REQUEST', 'malformed HTTP request'];
  const body = JSON.stringify({error: {code, message}});
  const headers = Object.entries(SECURITY_HEADERS)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n${headers}Connection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

/** An error of the HTTP layer (parser or request timeout), as opposed to a TLS-layer error. */
export function isHttpParserError(err: NodeJS.ErrnoException): boolean {
  return typeof err.code === 'string' && (err.code.startsWith('HPE_') || err.code === 'ERR_HTTP_REQUEST_TIMEOUT');
}

@lifeCycleObserver(TLS_OBSERVER_GROUP)
export class TlsGateObserver implements LifeCycleObserver {
  private reloader: TlsReloader | undefined;
  /** Every TCP connection, including those still in the TLS handshake (the gate sees only finished ones). */
  private readonly connections = new Set<Socket>();

  constructor(
    @inject(RestBindings.SERVER) private readonly rest: RestServer,
    @inject(AppBindings.CONFIG) private readonly config: AppConfig,
    @inject(AppBindings.LOGGER) private readonly logger: Logger,
    @inject(AppBindings.SHUTTING_DOWN) private readonly shuttingDown: {value: boolean},
    @inject(TlsBindings.GATE) private readonly gate: ConnectionGate,
    @inject(TlsBindings.STATE) private readonly state: TlsState,
    @inject(TlsBindings.REVOCATION_STORE) private readonly revocation: RevocationStore,
  ) {}

  start(): void {
    const server = this.rest.httpServer?.server as HttpsServer | undefined;
    if (!server) throw new Error('the REST server is not listening');
    // Only microtasks have run since 'listening', so no handshake has completed yet; the
    // strategy re-checks revocation on every request as a second layer regardless.
    this.gate.attach(server);
    server.on('connection', (socket: Socket) => {
      this.connections.add(socket);
      socket.once('close', () => this.connections.delete(socket));
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      // https.Server routes TLS errors (tlsClientError: handshake timeout, reset, ...) through
      // 'clientError' too and only destroys the socket when nobody listens: those get no HTTP
      // answer (the handshake never finished), just the destroy. Like Node's default handler,
      // never write into a response that has already started.
      const inFlight = (socket as Socket & {_httpMessage?: {headersSent?: boolean}})._httpMessage;
      if (!isHttpParserError(err) || !socket.writable || inFlight?.headersSent) {
        socket.destroy();
        return;
      }
      socket.end(clientErrorResponse(err.code));
    });
    const h = this.config.http;
    server.maxRequestsPerSocket = h.maxRequestsPerSocket;
    server.requestTimeout = h.requestTimeoutMs;
    server.headersTimeout = h.headersTimeoutMs;
    server.keepAliveTimeout = h.keepAliveTimeoutMs;
    // One more than the limit, so the limits middleware sees the excess and refuses it (431)
    // instead of Node silently dropping header fields past maxHeadersCount.
    server.maxHeadersCount = h.maxHeadersCount + 1;
    this.reloader = new TlsReloader(this.config, this.state, this.revocation, server, this.gate, this.logger.child({component: 'tls-reloader'}));
    this.rest.bind(TlsBindings.RELOADER).to(this.reloader);
    this.reloader.startWatching();
  }

  stop(): void {
    this.shuttingDown.value = true;
    this.reloader?.stop();
    // The gate stays attached until the server has closed: the listener is still open while the
    // server group stops, and a connection accepted then must still be checked (and known to the
    // authenticator, which would otherwise refuse a valid client with 401).
    const server = this.rest.httpServer?.server;
    if (server?.listening) server.once('close', () => this.gate.detach());
    else this.gate.detach();
    // The server's graceful close (gracePeriodForClose) ends the connections that finished the
    // handshake; one still in its handshake would hold server.close() open past the bound.
    const connections = this.connections;
    setTimeout(() => {
      for (const socket of connections) socket.destroy();
    }, this.config.http.shutdownTimeoutMs).unref();
  }
}
