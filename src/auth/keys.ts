import {BindingKey} from '@loopback/core';
import type {MtlsAuthenticationOptions} from './mtls-authentication.component';

export namespace MtlsAuthBindings {
  export const COMPONENT_OPTIONS = BindingKey.create<MtlsAuthenticationOptions>('components.MtlsAuthenticationComponent.options');
  export const STRATEGY = BindingKey.create<unknown>('authentication.strategies.mtls');
}
