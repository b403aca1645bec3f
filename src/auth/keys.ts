import {BindingKey} from '@loopback/core';
import type {MtlsAuthenticationComponent, MtlsAuthenticationOptions} from './mtls-authentication.component';
import type {MtlsAuthenticator} from './mtls-authenticator';
import type {OcspTransport} from './ocsp-client';

export namespace MtlsAuthBindings {
  /** The component; configure it with `app.configure(MtlsAuthBindings.COMPONENT).to({...})` before app.component(). */
  export const COMPONENT = BindingKey.create<MtlsAuthenticationComponent>('components.MtlsAuthenticationComponent');
  /** The resolved options (defaults applied), bound by the component. */
  export const COMPONENT_OPTIONS = BindingKey.create<MtlsAuthenticationOptions>('components.MtlsAuthenticationComponent.options');
  export const STRATEGY = BindingKey.create<unknown>('authentication.strategies.mtls');
  /** The singleton MtlsAuthenticator (verdict caches live in it). */
  export const AUTHENTICATOR = BindingKey.create<MtlsAuthenticator>('hardened.auth.mtlsAuthenticator');
  /**
   * Optional: how OCSP requests reach the network. Bind the SSRF-safe outbound client here; when
   * unbound, the authenticator's default undici transport (no redirects, time and size bounds) is used.
   */
  export const OCSP_TRANSPORT = BindingKey.create<OcspTransport>('hardened.auth.ocspTransport');
}
