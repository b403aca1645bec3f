/**
 * MtlsAuthenticationComponent wiring in a LoopBack context: options via app.configure(), the
 * singleton authenticator built from config + TLS state + CRL store, and trust reloads followed
 * through TlsState's epoch. Uses the project's test PKI and the service's own loaders.
 */
import assert from 'node:assert/strict';
import {Application} from '@loopback/core';
import {AuthenticationBindings} from '@loopback/authentication';
import {MtlsAuthBindings} from '../../../src/auth/keys';
import {MtlsAuthenticationComponent} from '../../../src/auth/mtls-authentication.component';
import {parseConfig} from '../../../src/config/config';
import {AppBindings, TlsBindings} from '../../../src/keys';
import {createLogger} from '../../../src/logging/logger';
import {ConnectionGate} from '../../../src/tls/connection-gate';
import {RevocationStore} from '../../../src/tls/revocation/revocation-store';
import {loadTlsMaterial} from '../../../src/tls/tls-material';
import {TlsState} from '../../../src/tls/tls-reloader';
import {givenMtlsEnv} from '../../fixtures/mtls-env';
import {DevPkiManifest, givenTestPki} from '../../fixtures/pki';
import {X509Certificate} from 'node:crypto';
import {readFileSync} from 'node:fs';

describe('auth: MtlsAuthenticationComponent in a LoopBack context (integration)', function () {
  this.timeout(60_000);
  let pki: DevPkiManifest;

  before(async () => {
    pki = await givenTestPki();
  });

  async function givenApp(options?: Record<string, unknown>) {
    const config = parseConfig(givenMtlsEnv(pki) as Record<string, string>);
    const logger = createLogger({level: 'silent'});
    const material = await loadTlsMaterial(config.tls);
    const state = new TlsState(material);
    const store = await RevocationStore.load(config.tls.crlFiles, material.caCerts);
    const app = new Application();
    app.bind(AppBindings.CONFIG).to(config);
    app.bind(AppBindings.LOGGER).to(logger);
    app.bind(TlsBindings.STATE).to(state);
    app.bind(TlsBindings.REVOCATION_STORE).to(store);
    app.bind(TlsBindings.GATE).to(new ConnectionGate(() => store.index, logger));
    if (options) app.configure(MtlsAuthBindings.COMPONENT).to(options);
    app.component(MtlsAuthenticationComponent);
    return {app, state, store, material};
  }

  const leaf = (name: 'valid' | 'revoked') => ({leafDer: new X509Certificate(readFileSync(pki.clients[name].cert)).raw, tlsAuthorized: true});

  it('applies `mtls` to every route by default and binds the resolved options', async () => {
    const {app} = await givenApp();
    assert.deepEqual(app.getConfigSync(AuthenticationBindings.COMPONENT), {defaultMetadata: [{strategy: 'mtls'}]});
    assert.equal((await app.get(MtlsAuthBindings.COMPONENT_OPTIONS)).applyToAllRoutes, true);
  });

  it('takes options from app.configure(MtlsAuthBindings.COMPONENT)', async () => {
    const {app} = await givenApp({applyToAllRoutes: false, verdictTtlSec: 7});
    const o = await app.get(MtlsAuthBindings.COMPONENT_OPTIONS);
    assert.equal(o.verdictTtlSec, 7);
    assert.equal(app.getConfigSync(AuthenticationBindings.COMPONENT), undefined);
  });

  it('binds one authenticator that decides with the CRL store and the TLS trust', async () => {
    const {app} = await givenApp();
    const a = await app.get(MtlsAuthBindings.AUTHENTICATOR);
    assert.equal(a, await app.get(MtlsAuthBindings.AUTHENTICATOR), 'singleton');
    const ok = await a.authenticate(leaf('valid'));
    assert.equal(ok.ok ? 'ok' : ok.code, 'ok');
    assert.equal(ok.ok && ok.revocationSource, 'crl');
    const revoked = await a.authenticate(leaf('revoked'));
    assert.equal(revoked.ok ? 'ok' : revoked.code, 'AUTH_CERT_REVOKED');
  });

  it('follows a trust reload (TlsState epoch) and a CRL swap (store epoch)', async () => {
    const {app, state, store, material} = await givenApp();
    const a = await app.get(MtlsAuthBindings.AUTHENTICATOR);
    const conn = {};
    assert.equal((await a.authenticate({...leaf('valid'), connection: conn})).ok, true);
    const epoch = a.epoch;
    // Reload: the bundle now holds only the root, so the intermediate must be presented by the client.
    const root = material.caCerts.find(c => c.subject === c.issuer)!;
    const intermediate = material.caCerts.find(c => c !== root)!;
    state.replace({...material, caCerts: [root]});
    const again = await a.authenticate({...leaf('valid'), connection: conn});
    assert.notEqual(a.epoch, epoch);
    assert.equal(again.cached, false, 're-checked after the epoch change');
    assert.equal(again.ok ? 'ok' : again.code, 'AUTH_CHAIN_INVALID');
    assert.equal((await a.authenticate({...leaf('valid'), chainDer: [intermediate.raw]})).ok, true);
    // A CRL swap bumps the epoch as well.
    const before = a.epoch;
    store.swap(store.index);
    assert.notEqual(a.epoch, before);
  });
});
