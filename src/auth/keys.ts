import {BindingKey} from '@loopback/core';
import type {MtlsAuthenticationComponent, MtlsAuthenticationOptions} from './mtls-authentication.component';
import type {MtlsAuthenticator} from './mtls-authenticator';
import type {OcspTransport} from './ocsp-transport';
import type {RevocationTransport} from './revocation-transport';

export namespace MtlsAuthBindings {
  /** The component; configure it with `app.configure(MtlsAuthBindings.COMPONENT).to({...})` before app.component(). */
  export const COMPONENT = BindingKey.create<MtlsAuthenticationComponent>('components.MtlsAuthenticationComponent');
  /** The resolved options (defaults applied), bound by the component. */
  export const COMPONENT_OPTIONS = BindingKey.create<MtlsAuthenticationOptions>('components.MtlsAuthenticationComponent.options');
  export const STRATEGY = BindingKey.create<unknown>('authentication.strategies.mtls');
  /** The singleton MtlsAuthenticator (verdict caches live in it). */
  export const AUTHENTICATOR = BindingKey.create<MtlsAuthenticator>('hardened.auth.mtlsAuthenticator');
  /**
   * Optional: how OCSP requests reach the network. The application binds the revocation transport's
   * `ocsp` here (SSRF-safe client); when unbound, the authenticator's default undici transport (no
   * redirects, time and size bounds, but no address policy) is used.
   */
  export const OCSP_TRANSPORT = BindingKey.create<OcspTransport>('hardened.auth.ocspTransport');
  /**
   * The revocation transport (revocation-transport.ts createRevocationTransport): the dedicated
   * SSRF-safe client for OCSP and CRL distribution points. When bound, MTLS_CRL_FETCH=true fetches
   * CRLs through it, and the component closes it when the application stops. The application also
   * binds its `ocsp` member to OCSP_TRANSPORT.
   */
  export const REVOCATION_TRANSPORT = BindingKey.create<RevocationTransport>('hardened.auth.revocationTransport');
}
