/**
 * HardenedMtlsApplication: a LoopBack 4 REST application served only over HTTPS with mutual
 * TLS 1.3. Everything security-relevant is bound here, in one readable place:
 *   TLS options (tls-options.ts) -> connection gate (revocation at connection time) ->
 *   security headers + request limits -> [guards] -> findRoute -> mtls authentication -> route.
 */
import {BootMixin} from '@loopback/boot';
import {ApplicationConfig, BindingScope, CoreBindings} from '@loopback/core';
import {createBindingFromClass} from '@loopback/core';
import {RestApplication, RestBindings, RestMiddlewareGroups} from '@loopback/rest';
import {AUTHORIZATION_MIDDLEWARE_GROUP, createAuthorizationMiddleware} from './authz/authorization.middleware';
import {AuthzBindings} from './authz/keys';
import {MtlsRoleAuthorizerProvider} from './authz/mtls.authorizer';
import {PolicyStore} from './authz/policy-source';
import type {Server as HttpsServer} from 'node:https';
import {MtlsAuthBindings} from './auth/keys';
import {MtlsAuthenticationComponent} from './auth/mtls-authentication.component';
import {createRevocationTransport} from './auth/revocation-transport';
import {AUTHORITY_GUARD_GROUP, createAuthorityMiddleware} from './guards/authority.middleware';
import {GuardsComponent} from './guards/guards.component';
import {GUARD_MIDDLEWARE_GROUP, GuardsBindings} from './guards/keys';
import type {OutboundDeps} from './outbound/outbound-client';
import type {AppConfig} from './config/config';
import {AppBindings, TlsBindings} from './keys';
import type {Logger} from './logging/logger';
import {createRequestEntryMiddleware, REQUEST_ENTRY_GROUP} from './middleware/request-entry.middleware';
import {SECURITY_HEADERS} from './middleware/security-headers.middleware';
import {RejectProvider} from './providers/reject.provider';
import {ConnectionGate} from './tls/connection-gate';
import type {RevocationStore} from './tls/revocation/revocation-store';
import type {TlsMaterial} from './tls/tls-material';
import {buildServerTlsOptions} from './tls/tls-options';
import {TLS_OBSERVER_GROUP, TlsGateObserver} from './observers/tls-gate.observer';
import {TlsReloader, TlsState} from './tls/tls-reloader';

export interface HardenedMtlsAppOptions extends ApplicationConfig {
  config: AppConfig;
  logger: Logger;
  material: TlsMaterial;
  revocation: RevocationStore;
  /** The role policy (PolicyStore.load); without it the built-in roles / MTLS_ROLES are used (no MTLS_POLICY_FILE). */
  policy?: PolicyStore;
  /** Outbound-client hooks (stub DNS, connect shim, CA): only the escape suite's local target sets them. */
  outboundDeps?: OutboundDeps;
}

export class HardenedMtlsApplication extends BootMixin(RestApplication) {
  readonly appConfig: AppConfig;
  readonly logger: Logger;
  readonly gate: ConnectionGate;
  readonly tlsState: TlsState;
  readonly revocation: RevocationStore;
  readonly policy: PolicyStore;

  constructor(options: HardenedMtlsAppOptions) {
    const {config, logger, material, revocation} = options;
    super({
      // Signals are handled by index.ts (graceful shutdown + SIGHUP reload), not by LoopBack.
      shutdown: {signals: []},
      rest: {
        protocol: 'https',
        host: config.host,
        port: config.port,
        ...buildServerTlsOptions(config.tls, config.http, material),
        gracePeriodForClose: config.http.shutdownTimeoutMs,
        expressSettings: {'x-powered-by': false, 'trust proxy': false, etag: false},
        // LoopBack's default CORS (origin *, credentials) is off: origin false makes its cors
        // middleware a pass-through. CORS_ALLOWED_ORIGINS is served by the authorization middleware.
        cors: {origin: false},
        openApiSpec: {disabled: true},
        apiExplorer: {disabled: true},
        requestBodyParser: {
          json: {limit: config.http.maxBodyBytes, strict: true},
          text: {limit: config.http.maxBodyBytes},
          urlencoded: {limit: config.http.maxBodyBytes, extended: false},
        },
      },
    });
    this.appConfig = config;
    this.logger = logger;
    this.tlsState = new TlsState(material);
    this.revocation = revocation;
    this.gate = new ConnectionGate(() => revocation.index, logger.child({component: 'connection-gate'}), {
      // A refused client's first request head: read and discarded within the HTTP header bounds.
      maxRequestBytes: config.http.maxHeaderSize,
      readTimeoutMs: Math.min(config.http.headersTimeoutMs, 5000),
      headers: SECURITY_HEADERS,
    });

    this.bind(AppBindings.CONFIG).to(config);
    this.bind(AppBindings.LOGGER).to(logger);
    const shuttingDown = {value: false};
    this.bind(AppBindings.SHUTTING_DOWN).to(shuttingDown);
    this.bind(TlsBindings.STATE).to(this.tlsState);
    this.bind(TlsBindings.REVOCATION_STORE).to(revocation);
    this.bind(TlsBindings.GATE).to(this.gate);
    this.bind(RestBindings.SequenceActions.REJECT).toProvider(RejectProvider).inScope(BindingScope.SINGLETON);
    // LoopBack binds the request body parser transient: the parse-params step built a new
    // RequestBodyParser and its five parsers (JSON, text, urlencoded, raw, stream) through
    // dependency injection on every request, body or not. They hold only their validated options,
    // so one instance serves every request. (A route's `x-parser` class, if a fork adds one, is
    // then instantiated in the application context, not the request's.)
    this.getBinding(RestBindings.REQUEST_BODY_PARSER).inScope(BindingScope.SINGLETON);

    // Security headers, request limits and the shutdown check: one middleware, ahead of everything else.
    this.middleware(createRequestEntryMiddleware(shuttingDown, config.http), {
      group: REQUEST_ENTRY_GROUP,
      upstreamGroups: [RestMiddlewareGroups.SEND_RESPONSE],
      downstreamGroups: [RestMiddlewareGroups.CORS, GUARD_MIDDLEWARE_GROUP, RestMiddlewareGroups.FIND_ROUTE],
    });
    // Host / absolute-form target / SNI against SERVER_NAMES, forwarding headers vs TRUSTED_PROXIES.
    this.middleware(
      createAuthorityMiddleware({config, serverCert: () => this.tlsState.material.serverCert, logger: logger.child({component: 'guards'})}),
      {
        group: AUTHORITY_GUARD_GROUP,
        upstreamGroups: [REQUEST_ENTRY_GROUP],
        downstreamGroups: [RestMiddlewareGroups.CORS, GUARD_MIDDLEWARE_GROUP, RestMiddlewareGroups.FIND_ROUTE],
      },
    );
    // OCSP requests and CRL downloads leave only through their own SSRF-safe client (closed by the
    // auth component on stop); its address exceptions are OUTBOUND_ALLOWED_CIDRS.
    const revocationTransport = createRevocationTransport(config, logger.child({component: 'revocation-transport'}));
    this.bind(MtlsAuthBindings.REVOCATION_TRANSPORT).to(revocationTransport);
    this.bind(MtlsAuthBindings.OCSP_TRANSPORT).to(revocationTransport.ocsp);
    this.component(MtlsAuthenticationComponent);
    // Authorization: per-operation roles from the verified identity, default deny (src/authz).
    this.policy = options.policy ?? PolicyStore.withoutFile(config, logger.child({component: 'authz'}));
    this.bind(AuthzBindings.POLICY_STORE).to(this.policy);
    this.add(createBindingFromClass(MtlsRoleAuthorizerProvider, {key: AuthzBindings.AUTHORIZER, defaultScope: BindingScope.SINGLETON}));
    this.middleware(
      createAuthorizationMiddleware({
        store: this.policy,
        logger: logger.child({component: 'authz'}),
        enforceDefaultDeny: config.env === 'production',
        corsAllowedOrigins: config.authz.corsAllowedOrigins,
      }),
      {
        group: AUTHORIZATION_MIDDLEWARE_GROUP,
        upstreamGroups: [RestMiddlewareGroups.FIND_ROUTE, RestMiddlewareGroups.AUTHENTICATION],
        downstreamGroups: [RestMiddlewareGroups.PARSE_PARAMS, RestMiddlewareGroups.INVOKE_METHOD],
      },
    );
    // Request guard (before findRoute), URL-parameter interceptor, SSRF-safe outbound client.
    this.bind(GuardsBindings.OPTIONS).to({config, logger: logger.child({component: 'guards'}), outboundDeps: options.outboundDeps});
    this.component(GuardsComponent);
    // Servers start first, then the `tls` group installs the gate and the reloader; stop runs
    // in reverse, so reloading ends and the app is marked as shutting down before the server closes.
    this.bind(CoreBindings.LIFE_CYCLE_OBSERVER_OPTIONS).to({orderedGroups: ['server', TLS_OBSERVER_GROUP], parallel: false});
    this.lifeCycleObserver(TlsGateObserver);

    this.projectRoot = __dirname;
    this.bootOptions = {
      // The demo controller (escape-suite targets) is not booted unless DEMO_ROUTES (default: not in production).
      controllers: config.demoRoutes
        ? {dirs: ['controllers'], extensions: ['.controller.js'], nested: true}
        : {glob: '/controllers/**/!(demo).controller.js'},
    };
  }

  /** The https.Server once started. */
  get httpsServer(): HttpsServer {
    const server = this.restServer.httpServer?.server;
    if (!server) throw new Error('server not started');
    return server as HttpsServer;
  }

  /** The hot reloader (bound by the TLS observer once the server listens). */
  get reloader(): TlsReloader | undefined {
    return this.restServer.isBound(TlsBindings.RELOADER.key) ? this.restServer.getSync(TlsBindings.RELOADER) : undefined;
  }
}
