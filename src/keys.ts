/**
 * Typed binding keys of the application: the ones every part reads (configuration, logger,
 * shutdown flag, TLS state). Component-specific keys live beside their component and are imported
 * from there: MtlsAuthBindings in src/auth/keys.ts, GuardsBindings in src/guards/keys.ts. They are
 * not re-exported here: the components import this file, so a re-export would make it import
 * upward (test/unit/architecture/layers.test.ts keeps the layers).
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
