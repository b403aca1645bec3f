/**
 * MtlsAuthenticationComponent: registers the `mtls` strategy and makes it the default for every
 * route (a route opts out only with an explicit `@authenticate.skip()`, which the OpenAPI audit
 * reports), and binds the singleton MtlsAuthenticator built from the validated configuration:
 *   trust anchors      <- TlsState (TLS_CA_FILE; re-read whenever a reload bumps its epoch)
 *   CRL                <- RevocationStore (the index the connection gate uses; epoch per change)
 *   OCSP               <- MTLS_OCSP_URL / AIA, through MtlsAuthBindings.OCSP_TRANSPORT when bound
 *   CRL fetching       <- MTLS_CRL_FETCH=true: a CrlFetcher on MtlsAuthBindings.REVOCATION_TRANSPORT
 *                         (no transport bound => nothing is fetched, the status stays unknown)
 *   policy             <- MtlsConfig (allow-list, sources, fail mode, depth, skew, timeouts)
 *
 * Options come from `app.configure(MtlsAuthBindings.COMPONENT).to({...})`; every default is the
 * most restrictive choice, and a value that would weaken a check is refused at construction.
 *
 * The component is a life-cycle observer: on stop it closes the bound revocation transport.
 */
import {
  Application,
  Binding,
  BindingScope,
  Component,
  config,
  ContextTags,
  CoreBindings,
  createBindingFromClass,
  extensionFilter,
  inject,
  injectable,
  LifeCycleObserver,
  Provider,
} from '@loopback/core';
import {AuthenticationBindings, AuthenticationComponent, AuthenticationStrategy} from '@loopback/authentication';
import type {AppConfig} from '../config/config';
import {AppError} from '../errors';
import {AppBindings, TlsBindings} from '../keys';
import type {Logger} from '../logging/logger';
import type {RevocationStore} from '../tls/revocation/revocation-store';
import type {TlsState} from '../tls/tls-reloader';
import {AuthenticationStrategyRegistry, authMetadataFactory, authStrategyFactory} from './auth-strategy.provider';
import {AuthenticationMiddlewareProvider} from './authentication.middleware';
import {CrlFetcher} from './crl-fetcher';
import {MtlsAuthBindings} from './keys';
import {MtlsAuthenticator, mtlsAuthenticatorOptions, revocationLookupFromStore, TrustSource} from './mtls-authenticator';
import type {CertIdHash} from './ocsp-request';
import type {OcspTransport} from './ocsp-transport';
import {MtlsAuthenticationStrategy} from './mtls.strategy';
import type {RevocationTransport} from './revocation-transport';

export interface MtlsAuthenticationOptions {
  /** Apply `mtls` to every route unless it opts out explicitly (default true). */
  applyToAllRoutes: boolean;
  /**
   * Reuse a verdict per TLS connection and per certificate until the revocation epoch changes, the
   * TTL passes, a certificate of the path expires or the OCSP answer expires (default true).
   */
  cacheVerdicts: boolean;
  /** Certificates remembered (default 10000). */
  verdictCacheSize: number;
  /** Upper bound on how long a verdict is reused (default 300 s). */
  verdictTtlSec: number;
  /** OCSP responses larger than this are refused (default 64 KiB). */
  ocspMaxResponseBytes: number;
  /** A good/revoked OCSP answer is reused until nextUpdate, at most this long (default 3600 s). */
  ocspCacheMaxTtlSec: number;
  /** An OCSP answer without nextUpdate is fresh this long after thisUpdate (default 300 s). */
  ocspMaxAgeWithoutNextUpdateSec: number;
  /** Send a nonce with every OCSP request (default true). */
  ocspNonce: boolean;
  /** CertID hash (default SHA-256; SHA-1 only for RFC 5019-only responders). */
  ocspCertIdHash: CertIdHash;
}

export const DEFAULT_MTLS_AUTHENTICATION_OPTIONS: Readonly<MtlsAuthenticationOptions> = Object.freeze({
  applyToAllRoutes: true,
  cacheVerdicts: true,
  verdictCacheSize: 10_000,
  verdictTtlSec: 300,
  ocspMaxResponseBytes: 64 * 1024,
  ocspCacheMaxTtlSec: 3600,
  ocspMaxAgeWithoutNextUpdateSec: 300,
  ocspNonce: true,
  ocspCertIdHash: 'SHA-256',
});

function bounded(name: keyof MtlsAuthenticationOptions, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new AppError('CONFIG_INVALID', `MtlsAuthenticationComponent option ${name} must be an integer between ${min} and ${max}`, {option: name});
  }
  return v;
}

/** Defaults applied, values range-checked. Throws AppError CONFIG_INVALID. */
export function resolveMtlsAuthenticationOptions(partial: Partial<MtlsAuthenticationOptions> = {}): MtlsAuthenticationOptions {
  const o = {...DEFAULT_MTLS_AUTHENTICATION_OPTIONS, ...partial};
  if (!['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'].includes(o.ocspCertIdHash)) {
    throw new AppError('CONFIG_INVALID', 'MtlsAuthenticationComponent option ocspCertIdHash is not supported', {option: 'ocspCertIdHash'});
  }
  return Object.freeze({
    applyToAllRoutes: o.applyToAllRoutes !== false,
    cacheVerdicts: o.cacheVerdicts !== false,
    verdictCacheSize: bounded('verdictCacheSize', o.verdictCacheSize, 1, 10_000_000),
    verdictTtlSec: bounded('verdictTtlSec', o.verdictTtlSec, 0, 86_400),
    ocspMaxResponseBytes: bounded('ocspMaxResponseBytes', o.ocspMaxResponseBytes, 1024, 10 * 1024 * 1024),
    ocspCacheMaxTtlSec: bounded('ocspCacheMaxTtlSec', o.ocspCacheMaxTtlSec, 0, 7 * 86_400),
    ocspMaxAgeWithoutNextUpdateSec: bounded('ocspMaxAgeWithoutNextUpdateSec', o.ocspMaxAgeWithoutNextUpdateSec, 0, 86_400),
    ocspNonce: o.ocspNonce !== false,
    ocspCertIdHash: o.ocspCertIdHash,
  });
}

/** Builds the singleton MtlsAuthenticator from the app's configuration, trust state and CRL store. */
export class MtlsAuthenticatorProvider implements Provider<MtlsAuthenticator> {
  constructor(
    @inject(AppBindings.CONFIG) private readonly appConfig: AppConfig,
    @inject(AppBindings.LOGGER) private readonly logger: Logger,
    @inject(TlsBindings.STATE) private readonly state: TlsState,
    @inject(TlsBindings.REVOCATION_STORE) private readonly store: RevocationStore,
    @inject(MtlsAuthBindings.COMPONENT_OPTIONS) private readonly options: MtlsAuthenticationOptions,
    @inject(MtlsAuthBindings.OCSP_TRANSPORT, {optional: true}) private readonly transport?: OcspTransport,
    @inject(MtlsAuthBindings.REVOCATION_TRANSPORT, {optional: true}) private readonly revocationTransport?: RevocationTransport,
  ) {}

  /** MTLS_CRL_FETCH=true with the CRL source on: a fetcher over the revocation transport. */
  private crlFetcher(logger: Logger): CrlFetcher | undefined {
    const mtls = this.appConfig.mtls;
    if (!mtls.crlFetch || !mtls.revocation.includes('crl')) return undefined;
    const transport = this.revocationTransport;
    if (!transport) {
      logger.warn('MTLS_CRL_FETCH=true but no revocation transport is bound: CRL distribution points are not fetched');
      return undefined;
    }
    return new CrlFetcher({fetchCrl: url => transport.fetchCrl(url), store: this.store, logger});
  }

  value(): MtlsAuthenticator {
    const state = this.state;
    const trust: TrustSource = {
      get epoch() {
        return state.epoch;
      },
      anchors: () => state.material.caCerts.map(c => c.raw),
    };
    const o = this.options;
    const logger = this.logger.child({component: 'mtls'});
    const crlFetcher = this.crlFetcher(logger);
    return new MtlsAuthenticator(
      {
        ...mtlsAuthenticatorOptions(this.appConfig.mtls, trust.anchors()),
        verdictCacheSize: o.verdictCacheSize,
        verdictTtlSec: o.cacheVerdicts ? o.verdictTtlSec : 0,
        ocsp: {
          maxResponseBytes: o.ocspMaxResponseBytes,
          cacheMaxTtlSec: o.ocspCacheMaxTtlSec,
          maxAgeWithoutNextUpdateSec: o.ocspMaxAgeWithoutNextUpdateSec,
          nonce: o.ocspNonce,
          certIdHash: o.ocspCertIdHash,
          ...(this.transport ? {transport: this.transport} : {}),
        },
      },
      {logger, revocation: revocationLookupFromStore(this.store), trust, ...(crlFetcher ? {crlFetcher} : {})},
    );
  }
}

@injectable({tags: {[ContextTags.KEY]: MtlsAuthBindings.COMPONENT.key}})
export class MtlsAuthenticationComponent implements Component, LifeCycleObserver {
  readonly bindings: Binding[];
  readonly options: MtlsAuthenticationOptions;

  constructor(
    @inject(CoreBindings.APPLICATION_INSTANCE) private readonly app: Application,
    @config() options: Partial<MtlsAuthenticationOptions> = {},
  ) {
    this.options = resolveMtlsAuthenticationOptions(options);
    app.component(AuthenticationComponent);
    if (this.options.applyToAllRoutes) {
      app.configure(AuthenticationBindings.COMPONENT).to({defaultMetadata: [{strategy: 'mtls'}]});
    }
    const registry = new AuthenticationStrategyRegistry(
      app.createView<AuthenticationStrategy>(extensionFilter(AuthenticationBindings.AUTHENTICATION_STRATEGY_EXTENSION_POINT_NAME)),
    );
    this.bindings = [
      Binding.bind(MtlsAuthBindings.COMPONENT_OPTIONS).to(this.options),
      createBindingFromClass(MtlsAuthenticatorProvider, {key: MtlsAuthBindings.AUTHENTICATOR, defaultScope: BindingScope.SINGLETON}),
      createBindingFromClass(MtlsAuthenticationStrategy, {key: MtlsAuthBindings.STRATEGY}),
      // Replace @loopback/authentication's per-request provider classes (auth-strategy.provider.ts).
      Binding.bind(AuthenticationBindings.METADATA).toDynamicValue(authMetadataFactory()).inScope(BindingScope.TRANSIENT),
      Binding.bind(AuthenticationBindings.STRATEGY).toDynamicValue(authStrategyFactory(registry)).inScope(BindingScope.TRANSIENT),
      // ... and its per-request middleware + action providers (authentication.middleware.ts).
      createBindingFromClass(AuthenticationMiddlewareProvider, {key: AuthenticationBindings.AUTHENTICATION_MIDDLEWARE}),
    ];
  }

  /** Close the revocation transport (its sockets and keep-alive connections). */
  async stop(): Promise<void> {
    const transport = await this.app.get(MtlsAuthBindings.REVOCATION_TRANSPORT, {optional: true});
    await transport?.close();
  }
}
