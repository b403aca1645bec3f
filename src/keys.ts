/**
 * Typed binding keys of the application. Component-specific keys live beside their component
 * (src/auth/keys.ts, src/guards/keys.ts) and are re-exported here.
 */
import {BindingKey} from '@loopback/core';
import type {AppConfig} from './config/config';
import type {Logger} from './logging/logger';
import type {ConnectionGate} from './tls/connection-gate';
import type {RevocationStore} from './tls/revocation/revocation-store';
import type {TlsReloader, TlsState} from './tls/tls-reloader';

export namespace AppBindings {
  /** The validated, deep-frozen configuration. */
  export const CONFIG = BindingKey.create<AppConfig>('hardened.config');
  export const LOGGER = BindingKey.create<Logger>('hardened.logger');
  /** Set to true once graceful shutdown has begun (responses then carry Connection: close). */
  export const SHUTTING_DOWN = BindingKey.create<{value: boolean}>('hardened.shuttingDown');
}

export namespace TlsBindings {
  export const STATE = BindingKey.create<TlsState>('hardened.tls.state');
  export const REVOCATION_STORE = BindingKey.create<RevocationStore>('hardened.tls.revocationStore');
  export const GATE = BindingKey.create<ConnectionGate>('hardened.tls.gate');
  export const RELOADER = BindingKey.create<TlsReloader>('hardened.tls.reloader');
}
